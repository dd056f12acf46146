"""TLS: the hook always verifies certificates; plain HTTP only for an explicit ``http://`` base URL.

Real local servers, no mocks: an HTTPS server with a self-signed certificate for 127.0.0.1 (untrusted unless
``REQUESTS_CA_BUNDLE`` names it) and a plain HTTP server, both answering TikTok's envelope and recording
the requests that reached them, so each test shows whether the access token ever left the client.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from tests.helpers.connections import FAKE_TOKEN

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_tiktok"
INFO = "/open_api/v1.3/advertiser/info/"
#: Ways code turns certificate checks off or redirects them (requests, urllib3, ssl, environment).
VERIFICATION_OFF = re.compile(
    r"verify\s*=\s*(False|0|None)|\.verify\s*=|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context"
    r"|disable_warnings|InsecureRequestWarning|PYTHONHTTPSVERIFY|CURL_CA_BUNDLE|REQUESTS_CA_BUNDLE|trust_env"
)
#: Connection extras a user might try in order to skip verification: all must be ignored.
INSECURE_EXTRAS = {"verify": False, "verify_ssl": "false", "ssl_verify": False, "insecure": True, "cert_reqs": "NONE"}


@dataclass
class Server:
    """A local server and the requests (path, headers) that reached its handler."""

    url: str
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: Path -> URL to redirect to (302) instead of answering.
    redirects: dict[str, str] = field(default_factory=dict)


def serve(context: ssl.SSLContext | None) -> Iterator[Server]:
    """Serve TikTok's envelope on 127.0.0.1 (over TLS when ``context`` is given) until the generator closes."""
    state = Server("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path.split("?")[0], dict(self.headers)))
            target = state.redirects.get(self.path.split("?")[0])
            if target:
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"code": 0, "message": "OK", "request_id": "tls-1", "data": {"list": []}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Quiet(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            return  # refused handshakes are the point of these tests

    server = Quiet(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    state.url = f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for 127.0.0.1, made with ``cryptography`` (Airflow ships it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[Server]:
    """An HTTPS server whose certificate no default trust store accepts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from serve(context)


@pytest.fixture
def http_server() -> Iterator[Server]:
    """A plain-HTTP server (what the emulator is)."""
    yield from serve(None)


@pytest.fixture
def make_hook(home: Path, set_tiktok_conn: Callable[..., None]) -> Callable[..., TikTokAdsHook]:
    """A hook on a connection to ``host`` (with extra fields), one attempt per request, no backoff sleeps."""

    def make(host: str, **extra: object) -> TikTokAdsHook:
        set_tiktok_conn(host=host, token=FAKE_TOKEN, rate_limit="1000", **extra)
        hook = TikTokAdsHook("tiktok_default", max_attempts=1, timeout=10)
        hook.sleep = lambda seconds: None
        return hook

    return make


def tokens_seen(server: Server) -> list[str]:
    return [headers.get("Access-Token", "") for _, headers in server.seen]


@pytest.mark.unit
def test_no_code_in_the_package_turns_verification_off():
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 20
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if VERIFICATION_OFF.search(line)
    ]
    assert found == []


@pytest.mark.unit
@pytest.mark.parametrize("host", ["", "https://business-api.tiktok.com", "http://127.0.0.1:8765"])
def test_the_session_verifies_certificates_whatever_the_base_url(make_hook, host):
    hook = make_hook(host)
    assert hook.session.verify is True
    assert hook.session.trust_env is True  # REQUESTS_CA_BUNDLE may add a CA, never remove the check


@pytest.mark.integration
def test_an_https_base_url_refuses_an_untrusted_certificate_before_sending_anything(make_hook, https_server):
    hook = make_hook(https_server.url)
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "advertiser/info/")
    assert info.value.code is None
    assert "SSLError" in str(info.value)
    assert https_server.seen == []  # the token never left the client


@pytest.mark.integration
def test_a_certificate_the_user_trusts_is_accepted(make_hook, https_server, certificate, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    assert make_hook(https_server.url).request("GET", "advertiser/info/") == {"list": []}
    assert tokens_seen(https_server) == [FAKE_TOKEN]  # so the refusal above was the certificate check


@pytest.mark.integration
@pytest.mark.parametrize("env", [{}, {"CURL_CA_BUNDLE": ""}, {"REQUESTS_CA_BUNDLE": ""}])
def test_connection_extras_and_empty_ca_variables_cannot_turn_verification_off(
    make_hook, https_server, monkeypatch, env
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hook = make_hook(https_server.url, **INSECURE_EXTRAS)
    assert not {"verify", "insecure"} & set(vars(hook.config))  # the typed config has no such field
    with pytest.raises(TikTokApiError, match="SSLError"):
        hook.request("GET", "advertiser/info/")
    assert https_server.seen == []


@pytest.mark.integration
def test_a_host_without_a_scheme_means_https_never_plain_http(make_hook, http_server):
    hook = make_hook(http_server.url.removeprefix("http://"))
    assert hook.config.base_url == "https://" + http_server.url.removeprefix("http://")
    with pytest.raises(TikTokApiError) as info:
        hook.request("GET", "advertiser/info/")
    assert info.value.code is None
    assert http_server.seen == []  # a TLS handshake, not a request: no fallback to plain HTTP


@pytest.mark.integration
def test_only_an_explicit_http_base_url_talks_plain_http(make_hook, http_server):
    hook = make_hook(http_server.url)
    assert hook.request("GET", "advertiser/info/") == {"list": []}
    assert http_server.seen == [(INFO, http_server.seen[0][1])]
    assert tokens_seen(http_server) == [FAKE_TOKEN]


@pytest.mark.integration
def test_a_redirect_never_carries_the_token_to_plain_http(
    make_hook, https_server, http_server, certificate, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    https_server.redirects[INFO] = http_server.url + INFO
    with pytest.raises(TikTokApiError) as info:  # a 3xx is an answer TikTok's API never gives
        make_hook(https_server.url).request("GET", "advertiser/info/")
    assert (info.value.http_status, info.value.retryable) == (302, False)
    assert tokens_seen(https_server) == [FAKE_TOKEN]
    assert http_server.seen == [], "the token went out over plain HTTP"
