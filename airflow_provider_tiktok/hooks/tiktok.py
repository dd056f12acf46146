"""TikTokAdsHook: the one place that talks HTTP to the TikTok API for Business (v1.3)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

import requests
from airflow.sdk import BaseHook

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError
from airflow_provider_tiktok.hooks import connection as conn_form
from airflow_provider_tiktok.hooks.connection import TikTokConnectionConfig
from airflow_provider_tiktok.utils.codes import (
    ACCESS_TOKEN_EXPIRED,
    OK,
    PARTIAL_SUCCESS,
    RATE_LIMIT_CODES,
    RPC_VALIDATION_ERROR,
)
from airflow_provider_tiktok.utils.ratelimit import RateLimiter, shared_limiter

log = logging.getLogger(__name__)

#: Paths called without the Access-Token header (they create tokens).
_TOKENLESS_PATHS = frozenset({"oauth2/access_token/", "tt_user/oauth2/refresh_token/"})
TOKEN_VARIABLE_PREFIX = "tiktok_ads_token__"
#: The Events API path, which TikTok rate-limits apart from (and far above) the Marketing API.
EVENTS_PATH = "event/track/"


def _mask(secret: str | None) -> None:
    """Register a secret with Airflow's log masker (a no-op for empty values)."""
    if secret:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)


def _encode_params(params: dict[str, Any] | None) -> dict[str, str] | None:
    """TikTok GET convention: lists and objects JSON-encoded, booleans as JSON, None dropped."""
    if not params:
        return None
    encoded: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | dict | bool):
            encoded[key] = json.dumps(value, separators=(",", ":"))
        else:
            encoded[key] = str(value)
    return encoded


class TikTokAdsHook(BaseHook):
    """Calls the TikTok API for Business with retries, a shared rate limit and envelope checks.

    :param tiktok_conn_id: Airflow connection of type ``tiktok_ads``.
    :param timeout: seconds allowed for each HTTP request.
    :param max_attempts: attempts per request for retryable failures (first try included).
    :param backoff_base: first retry delay in seconds; doubles on each retry (with jitter).
    :param backoff_max: cap of a single retry delay in seconds.
    :param rate_limit: requests per second to the Marketing API, shared by every task on this host;
        defaults to the connection's ``rate_limit`` extra, else 10 (TikTok's default app limit).
    :param events_rate_limit: requests per second to the Events API (``event/track/``), shared the same
        way; defaults to the connection's ``events_rate_limit`` extra, else 100.
    """

    conn_name_attr = "tiktok_conn_id"
    default_conn_name = "tiktok_default"
    conn_type = conn_form.CONN_TYPE
    hook_name = "TikTok Ads"

    #: Rate-limit codes wait at least this long between attempts: a breach can lock the app ~5 min.
    rate_limit_backoff_base = 5.0

    def __init__(
        self,
        tiktok_conn_id: str = default_conn_name,
        *,
        timeout: float = 60.0,
        max_attempts: int = 10,
        backoff_base: float = 1.0,
        backoff_max: float = 120.0,
        rate_limit: float | None = None,
        events_rate_limit: float | None = None,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise TikTokConfigError("max_attempts must be at least 1")
        self.tiktok_conn_id = tiktok_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rate_overrides = {"rate_limit": rate_limit, "events_rate_limit": events_rate_limit}
        self._sleep: Callable[[float], None] = time.sleep
        self._token_lock = threading.Lock()
        self._calls_lock = threading.Lock()
        self.api_calls = 0
        self._access_token: str | None = None

    # ----------------------------------------------------------------- connection
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout for Airflow 3.0-3.1 (3.2+ reads provider info instead)."""
        return conn_form.UI_FIELD_BEHAVIOUR

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Connection form extra fields for Airflow 3.0-3.1 (3.2+ reads provider info instead)."""
        return conn_form.connection_form_widgets()

    @cached_property
    def config(self) -> TikTokConnectionConfig:
        """The validated connection, read once; secrets registered with the masker."""
        config = conn_form.config_from_connection(self.get_connection(self.tiktok_conn_id), **self._rate_overrides)
        for secret in (config.access_token, config.app_secret, config.refresh_token):
            _mask(secret)
        return config

    @classmethod
    def from_config(cls, config: TikTokConnectionConfig, **kwargs: Any) -> TikTokAdsHook:
        """A hook for an in-memory config (the OAuth helper, which runs before any connection exists)."""
        hook = cls(config.conn_id, **kwargs)
        hook.__dict__["config"] = config
        for secret in (config.access_token, config.app_secret, config.refresh_token):
            _mask(secret)
        return hook

    @cached_property
    def session(self) -> requests.Session:
        """One HTTP session per hook: connection pooling across all calls and threads."""
        session = requests.Session()
        session.headers.update({"Content-Type": "application/json", "User-Agent": "airflow-provider-tiktok"})
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def get_conn(self) -> requests.Session:
        """The cached ``requests.Session`` (Airflow's hook convention)."""
        return self.session

    @cached_property
    def _limiters(self) -> tuple[RateLimiter, RateLimiter]:
        """This app's host-wide limiters, looked up once per hook: the Marketing API's and the Events API's."""
        key = f"{self.config.base_url}|{self.config.app_id}"
        return shared_limiter(key, self.config.rate_limit), shared_limiter(
            key + "|events", self.config.events_rate_limit
        )

    def limiter(self, path: str) -> RateLimiter:
        """The host-wide limiter of ``path``'s budget: the Events API's own, or the app's Marketing API one."""
        marketing, events = self._limiters
        return events if path.startswith(EVENTS_PATH) else marketing

    @property
    def advertiser_id(self) -> str | None:
        """The connection's default advertiser."""
        return self.config.advertiser_id

    def resolve_advertiser_id(self, advertiser_id: str | int | None) -> str:
        """The given advertiser, else the connection's default; raises when neither exists."""
        resolved = str(advertiser_id).strip() if advertiser_id not in (None, "") else self.advertiser_id
        if not resolved:
            raise TikTokConfigError(
                f"No advertiser_id: pass advertiser_id to the task or set extra 'advertiser_id' "
                f"on connection {self.tiktok_conn_id!r}"
            )
        if not (resolved.isascii() and resolved.isdigit()):  # full-width digits are isdigit() too
            raise TikTokConfigError("advertiser_id must contain digits only")
        return resolved

    # ------------------------------------------------------------------- requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        before_retry: Callable[[TikTokApiError, int], None] | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` (relative to ``/open_api/v1.3/``) and return the envelope's ``data``.

        Retryable failures are retried with exponential backoff and jitter; any other non-zero
        ``code`` raises :class:`TikTokApiError` at once. Partial success (20001) is returned, with
        ``data`` holding TikTok's details, for the caller to handle. An expired access token is
        refreshed once when the connection has a refresh token.

        ``before_retry(error, attempt)`` runs after the backoff, right before attempt number ``attempt``
        is sent: callers that count every attempt against a quota (TikTok counts an attempt whose answer
        was lost) record it there, and anything it raises ends the request unchanged.
        """
        path = path.lstrip("/")
        if not path.endswith("/"):
            path += "/"
        attempt = 0
        refreshed = False
        validation_retried = False
        while True:
            attempt += 1
            try:
                return self._send_once(method, path, params=params, json=json, data=data, files=files)
            except TikTokApiError as err:
                if err.code == ACCESS_TOKEN_EXPIRED and not refreshed and self.config.refresh_token:
                    refreshed = True
                    self.refresh_access_token()
                    continue
                if err.code == RPC_VALIDATION_ERROR:
                    if validation_retried:
                        raise
                    validation_retried = True
                if not err.retryable or attempt >= self.max_attempts:
                    if err.retryable:
                        raise TikTokApiError(
                            err.code,
                            f"gave up after {attempt} attempts: {err.message}",
                            err.request_id,
                            err.http_status,
                            path=path,
                        ) from err
                    raise
                delay = self._backoff(attempt, err.code)
                log.warning(
                    "TikTok %s %s failed (code=%s, http=%s, request_id=%s); retry %d/%d in %.1fs",
                    method,
                    path,
                    err.code,
                    err.http_status,
                    err.request_id,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self._sleep(delay)
                if before_retry is not None:
                    before_retry(err, attempt + 1)

    def _backoff(self, attempt: int, code: int | None) -> float:
        """Exponential delay with jitter; rate-limit codes start higher to outlast TikTok's lock."""
        base = max(self.backoff_base, self.rate_limit_backoff_base) if code in RATE_LIMIT_CODES else self.backoff_base
        delay = min(self.backoff_max, base * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def _send_once(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One attempt: rate limit, send, and turn the answer into ``data`` or a TikTokApiError."""
        headers: dict[str, str] = {}
        if path not in _TOKENLESS_PATHS:
            token = self._current_token()
            if not token:
                raise TikTokConfigError(f"Connection {self.tiktok_conn_id!r}: field 'password' (access token) is empty")
            headers["Access-Token"] = token
        if kwargs.get("files"):
            headers["Content-Type"] = None  # type: ignore[assignment]  # let requests set the boundary
        url = self.config.api_root + path
        self.limiter(path).acquire()
        with self._calls_lock:
            self.api_calls += 1
        try:
            response = self.session.request(
                method.upper(),
                url,
                params=_encode_params(kwargs.get("params")),
                json=kwargs.get("json"),
                data=kwargs.get("data"),
                files=kwargs.get("files"),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # requests would carry the Access-Token header to wherever a 3xx points
            )
        except requests.Timeout as exc:
            raise TikTokApiError(None, f"timed out after {self.timeout}s", path=path) from exc
        except requests.ConnectionError as exc:
            raise TikTokApiError(None, f"connection failed ({type(exc).__name__})", path=path) from exc
        return self._parse(response, path)

    @staticmethod
    def _parse(response: requests.Response, path: str) -> dict[str, Any]:
        """Check the HTTP status and the envelope; never trust HTTP 200 alone."""
        request_id = response.headers.get("X-Tt-Logid")
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "code" not in envelope:
            raise TikTokApiError(
                None,
                f"unexpected non-envelope answer (HTTP {response.status_code})",
                request_id,
                response.status_code,
                path=path,
            )
        code = envelope.get("code")
        request_id = envelope.get("request_id") or request_id
        if response.status_code >= 400 and code == OK:
            code = None
        if code in (OK, PARTIAL_SUCCESS):
            data = envelope.get("data")
            data = data if isinstance(data, dict) else {}
            if code == PARTIAL_SUCCESS:
                log.warning("TikTok %s partial success (request_id=%s)", path, request_id)
                data = {**data, "_partial_success": True, "_request_id": request_id}
            return data
        raise TikTokApiError(
            code,
            str(envelope.get("message") or ""),
            request_id,
            response.status_code,
            path=path,
            data=envelope.get("data"),
        )

    def paginate(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int = 1000,
        list_key: str = "list",
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a ``page``/``page_size`` endpoint, stopping on ``page_info``."""
        for page in self.iter_pages(path, params, page_size=page_size):
            yield from page.get(list_key) or []

    def iter_pages(
        self, path: str, params: dict[str, Any] | None = None, *, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield each page's ``data``; one call per page, none past ``page_info.total_page``."""
        if not 1 <= page_size <= 1000:
            raise TikTokConfigError("page_size must be between 1 and 1000")
        page = 1
        while True:
            data = self.request("GET", path, params={**(params or {}), "page": page, "page_size": page_size})
            yield data
            info = data.get("page_info") or {}
            total_page = int(info.get("total_page") or 0)
            if page >= total_page or not data.get("list"):
                return
            page += 1

    # ------------------------------------------------------------ tokens / OAuth
    def _current_token(self) -> str | None:
        """The access token: a refreshed one stored by an earlier run wins over the connection's."""
        if self._access_token is None:
            with self._token_lock:
                if self._access_token is None:
                    stored = self._load_stored_token() if self.config.refresh_token else None
                    self._access_token = (stored or {}).get("access_token") or self.config.access_token
                    _mask(self._access_token)
        return self._access_token

    @property
    def token_variable_key(self) -> str:
        """The Airflow Variable that keeps refreshed tokens (its name makes Airflow mask its value)."""
        return f"{TOKEN_VARIABLE_PREFIX}{self.tiktok_conn_id}"

    def _load_stored_token(self) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        try:
            raw = Variable.get(self.token_variable_key, default=None)
        except Exception:  # no metadata access (e.g. outside a task): use the connection's token
            log.info("No stored TikTok token available for %s; using the connection's", self.tiktok_conn_id)
            return None
        if not raw:
            return None
        stored = raw if isinstance(raw, dict) else json.loads(raw)
        for secret in (stored.get("access_token"), stored.get("refresh_token")):
            _mask(secret)
        return stored

    def refresh_access_token(self) -> str:
        """Exchange the refresh token for a new pair and store it for later runs."""
        cfg = self.config
        if not (cfg.refresh_token and cfg.app_id and cfg.app_secret):
            raise TikTokConfigError(
                f"Connection {self.tiktok_conn_id!r}: refreshing needs extras 'refresh_token', 'app_id' "
                "and 'app_secret'"
            )
        stored = self._load_stored_token() or {}
        data = self.request(
            "POST",
            "tt_user/oauth2/refresh_token/",
            json={
                "client_id": cfg.app_id,
                "client_secret": cfg.app_secret,
                "grant_type": "refresh_token",
                "refresh_token": stored.get("refresh_token") or cfg.refresh_token,
            },
        )
        access_token, refresh_token = data.get("access_token"), data.get("refresh_token")
        if not access_token:
            raise TikTokApiError(None, "token refresh answered without an access_token", path="tt_user/oauth2/")
        _mask(access_token)
        _mask(refresh_token)
        with self._token_lock:
            self._access_token = access_token
        self._store_token({"access_token": access_token, "refresh_token": refresh_token or cfg.refresh_token})
        log.info("Refreshed the TikTok access token of connection %s", self.tiktok_conn_id)
        return access_token

    def _store_token(self, pair: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        try:
            Variable.set(self.token_variable_key, json.dumps(pair), description="TikTok token pair (masked)")
        except Exception as exc:
            log.warning(
                "Could not store the refreshed TikTok token in Variable %s (%s); the next run refreshes again",
                self.token_variable_key,
                type(exc).__name__,
            )

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        """The page where an advertiser grants this app access; TikTok redirects back with ``auth_code``."""
        if not self.config.app_id:
            raise TikTokConfigError(f"Connection {self.tiktok_conn_id!r}: extra field 'app_id' is required")
        query = urlencode({"app_id": self.config.app_id, "state": state, "redirect_uri": redirect_uri})
        return f"{self.config.base_url}/portal/auth?{query}"

    def exchange_auth_code(self, auth_code: str) -> dict[str, Any]:
        """Trade a one-time ``auth_code`` for a long-lived advertiser access token."""
        cfg = self.config
        if not (cfg.app_id and cfg.app_secret):
            raise TikTokConfigError(
                f"Connection {self.tiktok_conn_id!r}: extras 'app_id' and 'app_secret' are required"
            )
        data = self.request(
            "POST",
            "oauth2/access_token/",
            json={"app_id": cfg.app_id, "secret": cfg.app_secret, "auth_code": auth_code},
        )
        _mask(data.get("access_token"))
        return data

    # ---------------------------------------------------------------- helpers
    def advertiser_info(self, advertiser_ids: list[str]) -> list[dict[str, Any]]:
        """Name, currency and time zone of each advertiser (one call for up to 100 ids)."""
        data = self.request(
            "GET",
            "advertiser/info/",
            params={
                "advertiser_ids": [str(a) for a in advertiser_ids],
                "fields": ["advertiser_id", "name", "currency", "timezone", "display_timezone", "status"],
            },
        )
        return data.get("list") or []

    def test_connection(self) -> tuple[bool, str]:
        """Check the token and say which advertisers it reaches (used by the UI's Test button)."""
        try:
            cfg = self.config
            if cfg.app_id and cfg.app_secret:
                data = self.request(
                    "GET", "oauth2/advertiser/get/", params={"app_id": cfg.app_id, "secret": cfg.app_secret}
                )
                reached = [f"{a.get('advertiser_id')} ({a.get('advertiser_name')})" for a in data.get("list") or []]
            elif cfg.advertiser_id:
                reached = [
                    f"{a.get('advertiser_id')} ({a.get('name')})" for a in self.advertiser_info([cfg.advertiser_id])
                ]
            else:
                return False, "Set extras app_id and app_secret, or advertiser_id, so the token can be checked"
        except (TikTokApiError, TikTokConfigError) as err:
            return False, str(err)
        if not reached:
            return False, "The token is valid but reaches no advertiser: authorise one with the OAuth helper"
        if cfg.advertiser_id and not any(r.startswith(cfg.advertiser_id + " ") for r in reached):
            return False, f"Default advertiser {cfg.advertiser_id} is not among those authorised: {', '.join(reached)}"
        return True, f"Token valid for {cfg.base_url}; advertisers reachable: {', '.join(reached)}"
