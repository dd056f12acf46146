"""Authorise an advertiser and print a ready Airflow connection: ``python -m airflow_provider_tiktok.oauth``.

The helper prints TikTok's authorisation URL, waits on a 127.0.0.1-only redirect URI for the
``auth_code`` (checking ``state``, with a time-out), exchanges it for an access token and prints the
``airflow connections add`` command and the ``AIRFLOW_CONN_...`` form.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import secrets
import shlex
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from airflow_provider_tiktok.hooks.connection import (
    CONN_TYPE,
    PRODUCTION_BASE_URL,
    TikTokConnectionConfig,
    normalise_base_url,
)

CALLBACK_PATH = "/callback"


class OAuthError(RuntimeError):
    """The authorisation did not complete (time-out, state mismatch, denial)."""


class _CallbackServer(HTTPServer):
    """Loopback server that captures exactly one redirect carrying the expected ``state``."""

    def __init__(self, port: int, expected_state: str) -> None:
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.expected_state = expected_state
        self.result: dict[str, str] = {}
        self.done = threading.Event()


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self._answer(404, "Not found")
            return
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if not secrets.compare_digest(query.get("state", ""), self.server.expected_state):
            self.server.result = {"error": "the state parameter does not match this authorisation (possible CSRF)"}
            self._answer(400, "State mismatch: authorisation refused. Start the helper again.")
        elif "auth_code" in query or "code" in query:
            self.server.result = {"auth_code": query.get("auth_code") or query["code"]}
            self._answer(200, "TikTok authorisation received. You can close this tab and return to the terminal.")
        else:
            self.server.result = {"error": "TikTok redirected without an auth_code (was access denied?)"}
            self._answer(400, "No authorisation code received.")
        self.server.done.set()

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the query string holds the auth code
        return


def wait_for_auth_code(server: _CallbackServer, timeout: float) -> str:
    """Serve the redirect URI until TikTok calls it or ``timeout`` seconds pass."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        if not server.done.wait(timeout):
            raise OAuthError(f"no redirect from TikTok within {timeout:.0f} s; run the helper again")
    finally:
        server.shutdown()
        server.server_close()
    if "error" in server.result:
        raise OAuthError(server.result["error"])
    return server.result["auth_code"]


def connection_for(config: TikTokConnectionConfig, token_data: dict[str, Any]) -> dict[str, Any]:
    """The Airflow connection (JSON form) for an exchanged token."""
    advertiser_ids = [str(a) for a in token_data.get("advertiser_ids") or []]
    extra = {"app_id": config.app_id, "app_secret": config.app_secret}
    if advertiser_ids:
        extra["advertiser_id"] = advertiser_ids[0]
    if token_data.get("refresh_token"):
        extra["refresh_token"] = token_data["refresh_token"]
    return {
        "conn_type": CONN_TYPE,
        "host": "" if config.base_url == PRODUCTION_BASE_URL else config.base_url,
        "password": token_data["access_token"],
        "extra": extra,
    }


def run_flow(
    config: TikTokConnectionConfig,
    *,
    port: int = 0,
    timeout: float = 300.0,
    open_browser: bool = True,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Run the whole authorisation and return the token data TikTok answered."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    state = secrets.token_urlsafe(24)
    server = _CallbackServer(port, state)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
    hook = TikTokAdsHook.from_config(config)
    url = hook.authorization_url(redirect_uri, state)
    print(f"Open this URL, sign in and grant Audience Management, Reporting and Events:\n\n  {url}\n", file=out)
    print(f"(The app's redirect URI must be {redirect_uri}; waiting up to {timeout:.0f} s.)", file=out, flush=True)
    if open_browser:
        webbrowser.open(url)
    auth_code = wait_for_auth_code(server, timeout)
    return hook.exchange_auth_code(auth_code)


def print_connection(conn: dict[str, Any], conn_id: str, advertiser_ids: list[str], out: TextIO = sys.stdout) -> None:
    """Print the two ways to install the connection."""
    conn_json = json.dumps(conn)
    print(f"\nAuthorised advertisers: {', '.join(advertiser_ids) or 'none'}", file=out)
    print("\nCreate the Airflow connection with:\n", file=out)
    print(f"  airflow connections add {shlex.quote(conn_id)} --conn-json {shlex.quote(conn_json)}\n", file=out)
    print("or set it in the environment of every Airflow component:\n", file=out)
    print(f"  export AIRFLOW_CONN_{conn_id.upper()}={shlex.quote(conn_json)}", file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_tiktok.oauth", description=__doc__)
    parser.add_argument("--app-id", default=os.environ.get("TIKTOK_APP_ID"), help="developer app id ($TIKTOK_APP_ID)")
    parser.add_argument("--base-url", default="", help="API host; empty = production (e.g. http://127.0.0.1:8765)")
    parser.add_argument("--port", type=int, default=8900, help="local redirect port (0 = any free port)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the redirect")
    parser.add_argument("--conn-id", default="tiktok_default", help="connection id to print")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL")
    args = parser.parse_args(argv)
    if not args.app_id:
        parser.error("--app-id (or $TIKTOK_APP_ID) is required")
    app_secret = os.environ.get("TIKTOK_APP_SECRET") or getpass.getpass("App secret ($TIKTOK_APP_SECRET): ")
    config = TikTokConnectionConfig(
        conn_id=args.conn_id,
        base_url=normalise_base_url(args.base_url, args.conn_id),
        access_token=None,
        app_id=args.app_id,
        app_secret=app_secret,
        advertiser_id=None,
        refresh_token=None,
        rate_limit=1.0,
    )
    try:
        token_data = run_flow(config, port=args.port, timeout=args.timeout, open_browser=not args.no_browser)
    except OAuthError as err:
        print(f"Authorisation failed: {err}", file=sys.stderr)
        return 1
    conn = connection_for(config, token_data)
    print_connection(conn, args.conn_id, [str(a) for a in token_data.get("advertiser_ids") or []])
    return 0


if __name__ == "__main__":
    sys.exit(main())
