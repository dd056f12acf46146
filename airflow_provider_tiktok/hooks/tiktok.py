"""TikTokAdsHook: the one place that talks HTTP to the TikTok API for Business (v1.3), and owns its endpoints."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import requests
import tenacity

from airflow_provider_tiktok.compat import BaseHook
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError, TikTokPartialSuccess
from airflow_provider_tiktok.hooks import connection as conn_form
from airflow_provider_tiktok.hooks.codes import ACCESS_TOKEN_EXPIRED, RATE_LIMIT_CODES
from airflow_provider_tiktok.hooks.connection import TikTokConnectionConfig
from airflow_provider_tiktok.hooks.envelope import TrackResult, encode_body, encode_params, parse_answer
from airflow_provider_tiktok.hooks.paging import ItemKey, ListingCheck, by_dimensions, by_field, by_value
from airflow_provider_tiktok.hooks.retry import BeforeRetry, RetryPolicy
from airflow_provider_tiktok.hooks.tokens import TOKENLESS_PATHS, TokenMixin, mask
from airflow_provider_tiktok.utils.ratelimit import Limiter, shared_limiter

log = logging.getLogger(__name__)

#: Every TikTok endpoint the provider calls, relative to ``/open_api/v1.3/``; the hook's methods below are
#: the only callers. The Events API path is rate-limited apart from (and far above) the Marketing API.
EVENTS_PATH = "event/track/"
ADVERTISER_INFO_PATH = "advertiser/info/"
AUTHORISED_ADVERTISERS_PATH = "oauth2/advertiser/get/"
AUDIENCE_LIST_PATH = "dmp/custom_audience/list/"
AUDIENCE_GET_PATH = "dmp/custom_audience/get/"
AUDIENCE_FILE_UPLOAD_PATH = "dmp/custom_audience/file/upload/"
AUDIENCE_CREATE_PATH = "dmp/custom_audience/create/"
AUDIENCE_UPDATE_PATH = "dmp/custom_audience/update/"
REPORT_PATH = "report/integrated/get/"
ADS_PATH = "ad/get/"
MAX_PAGE_SIZE = 1000
#: ``dmp/custom_audience/list/`` pages hold at most 100 audiences.
AUDIENCE_PAGE_SIZE = 100


class TikTokAdsHook(TokenMixin, BaseHook):
    """Calls the TikTok API for Business with retries, a shared rate limit and envelope checks.

    :param tiktok_conn_id: Airflow connection of type ``tiktok_ads``.
    :param timeout: seconds allowed for each HTTP request.
    :param max_attempts: attempts per request for retryable failures (first try included).
    :param backoff_base: first retry delay in seconds; doubles on each retry (with jitter).
    :param backoff_max: cap of a single retry delay in seconds.
    :param rate_limit: requests per second to the Marketing API, shared by every task on this host (on every
        host with the connection's ``rate_limit_storage``);
        defaults to the connection's ``rate_limit`` extra, else 10 (TikTok's default app limit).
    :param events_rate_limit: requests per second to the Events API (``event/track/``), shared the same
        way; defaults to the connection's ``events_rate_limit`` extra, else 100.
    :param sleep: how the hook waits between attempts (tests pass a virtual clock's sleep).
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise TikTokConfigError("max_attempts must be at least 1")
        self.tiktok_conn_id = tiktok_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self._rate_overrides = {"rate_limit": rate_limit, "events_rate_limit": events_rate_limit}
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
        for secret in (config.access_token, config.app_secret, config.refresh_token, config.rate_limit_storage):
            mask(secret)
        return config

    @classmethod
    def from_config(cls, config: TikTokConnectionConfig, **kwargs: Any) -> TikTokAdsHook:
        """A hook for an in-memory config (the OAuth helper, which runs before any connection exists)."""
        hook = cls(config.conn_id, **kwargs)
        hook.__dict__["config"] = config
        for secret in (config.access_token, config.app_secret, config.refresh_token, config.rate_limit_storage):
            mask(secret)
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
    def _limiters(self) -> tuple[Limiter, Limiter]:
        """This app's limiters (host-wide, or for every host with ``rate_limit_storage``), looked up once per hook:
        the Marketing API's and the Events API's."""
        key, storage = f"{self.config.base_url}|{self.config.app_id}", self.config.rate_limit_storage
        return shared_limiter(key, self.config.rate_limit, storage), shared_limiter(
            key + "|events", self.config.events_rate_limit, storage
        )

    def limiter(self, path: str) -> Limiter:
        """The limiter of ``path``'s budget: the Events API's own, or the app's Marketing API one."""
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
        before_retry: BeforeRetry | None = None,
    ) -> dict[str, Any]:
        """Call ``path`` (relative to ``/open_api/v1.3/``) and return the envelope's ``data``.

        Retryable failures are retried with exponential backoff and jitter (a ``tenacity`` policy); any other
        non-zero ``code`` raises :class:`TikTokApiError` at once, partial success (20001) its subclass
        :class:`TikTokPartialSuccess`. An expired access token is refreshed once when the connection has a
        refresh token.

        ``before_retry(error, attempt)`` runs after the backoff, right before attempt number ``attempt``
        is sent: callers that count every attempt against a quota (TikTok counts an attempt whose answer
        was lost) record it there, and anything it raises ends the request unchanged.
        """
        path = path.lstrip("/")
        if not path.endswith("/"):
            path += "/"
        retrying = RetryPolicy(self, method, path, before_retry).retrying()
        try:
            return retrying(self._send_refreshing, method, path, params=params, json=json, data=data, files=files)
        except tenacity.RetryError as gave_up:
            err = gave_up.last_attempt.exception()
            assert isinstance(err, TikTokApiError)
            attempts = gave_up.last_attempt.attempt_number
            raise TikTokApiError(
                err.code,
                f"gave up after {attempts} attempts: {err.message}",
                err.request_id,
                err.http_status,
                path=path,
            ) from err

    def backoff(self, attempt: int, code: int | None) -> float:
        """Exponential delay with jitter; rate-limit codes start higher to outlast TikTok's lock."""
        base = max(self.backoff_base, self.rate_limit_backoff_base) if code in RATE_LIMIT_CODES else self.backoff_base
        delay = min(self.backoff_max, base * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.5, 1.0))

    def _send_refreshing(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One attempt; an expired token is refreshed once (when the connection can) and the request resent."""
        try:
            return self._send_once(method, path, **kwargs)
        except TikTokApiError as err:
            if err.code != ACCESS_TOKEN_EXPIRED or not self.config.refresh_token or path in TOKENLESS_PATHS:
                raise
        self.refresh_access_token()
        return self._send_once(method, path, **kwargs)

    def _send_once(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One HTTP request: rate limit, send, and turn the answer into ``data`` or a TikTokApiError."""
        headers: dict[str, str | None] = {}
        if path not in TOKENLESS_PATHS:
            token = self._current_token()
            if not token:
                raise TikTokConfigError(f"Connection {self.tiktok_conn_id!r}: field 'password' (access token) is empty")
            headers["Access-Token"] = token
        if kwargs.get("files"):
            headers["Content-Type"] = None  # let requests set the multipart boundary
        body = kwargs.get("json")
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.limiter(path).acquire()
        with self._calls_lock:
            self.api_calls += 1
        try:
            response = self.session.request(
                method.upper(),
                self.config.api_root + path,
                params=encode_params(kwargs.get("params")),
                data=encode_body(body) if body is not None else kwargs.get("data"),
                files=kwargs.get("files"),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # requests would carry the Access-Token header to wherever a 3xx points
            )
        except requests.Timeout as exc:
            raise TikTokApiError(None, f"timed out after {self.timeout}s", path=path) from exc
        except requests.ConnectionError as exc:
            raise TikTokApiError(None, f"connection failed ({type(exc).__name__})", path=path) from exc
        return parse_answer(response, path)

    def paginate(
        self, path: str, params: dict[str, Any] | None = None, *, list_key: str = "list", **paging: Any
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a ``page``/``page_size`` endpoint; ``paging`` as :meth:`iter_pages`."""
        for page in self.iter_pages(path, params, list_key=list_key, **paging):
            yield from page.get(list_key) or []

    def iter_pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        list_key: str = "list",
        item_key: ItemKey | None = None,
        label: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield each page's ``data`` (one call per page), then check the read against ``page_info``: exactly
        ``total_number`` distinct items (by ``item_key``, default their whole value) on ``total_page`` pages."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise TikTokConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        check = ListingCheck(label or f"{path} listing", path, item_key or by_value, list_key)
        yield from check.read(
            lambda page: self.request("GET", path, params={**(params or {}), "page": page, "page_size": page_size})
        )

    # ------------------------------------------------------------------ endpoints
    def track_events(self, body: dict[str, Any]) -> TrackResult:
        """Send one ``event/track/`` request (up to 1,000 events); the only call that accepts partial success."""
        try:
            return TrackResult(self.request("POST", EVENTS_PATH, json=body))
        except TikTokPartialSuccess as partial:
            return TrackResult(partial.details, partial=True, request_id=partial.request_id)

    def advertiser_info(self, advertiser_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Name, currency and time zone of each advertiser (one call for up to 100 ids)."""
        data = self.request(
            "GET",
            ADVERTISER_INFO_PATH,
            params={
                "advertiser_ids": [str(a) for a in advertiser_ids],
                "fields": ["advertiser_id", "name", "currency", "timezone", "display_timezone", "status"],
            },
        )
        return list(data.get("list") or [])

    def authorised_advertisers(self) -> list[dict[str, Any]]:
        """The advertisers that authorised the connection's app (needs ``app_id`` and ``app_secret``)."""
        cfg = self.config
        data = self.request("GET", AUTHORISED_ADVERTISERS_PATH, params={"app_id": cfg.app_id, "secret": cfg.app_secret})
        return list(data.get("list") or [])

    def iter_audiences(self, advertiser_id: str) -> Iterator[dict[str, Any]]:
        """Every custom audience of the advertiser (GET calls: no audience budget)."""
        label, key = f"custom audience listing of advertiser {advertiser_id}", by_field("audience_id")
        return self.paginate(
            AUDIENCE_LIST_PATH,
            {"advertiser_id": advertiser_id},
            page_size=AUDIENCE_PAGE_SIZE,
            item_key=key,
            label=label,
        )

    def find_audience(self, advertiser_id: str, name: str) -> dict[str, Any] | None:
        """The advertiser's one audience named exactly ``name``, or None; several of that name are an error."""
        matches = [item for item in self.iter_audiences(advertiser_id) if item.get("name") == name]
        if len(matches) > 1:
            raise TikTokConfigError(f"{len(matches)} audiences are named {name!r}: pass audience_id instead")
        return matches[0] if matches else None

    def get_audience(self, advertiser_id: str, audience_id: str) -> dict[str, Any] | None:
        """``audience_details`` of one audience, or None when TikTok lists none (a GET: no audience budget)."""
        data = self.request(
            "GET",
            AUDIENCE_GET_PATH,
            # history_size is 1..100 (default 100, dmp_custom_audience_get.yml): ask for the least history.
            params={"advertiser_id": advertiser_id, "custom_audience_ids": [audience_id], "history_size": 1},
        )
        details = [item.get("audience_details") or {} for item in data.get("list") or []]
        return details[0] if details else None

    def upload_audience_file(self, advertiser_id: str, calculate_type: str, path: Path, md5: str) -> str:
        """Upload one customer file (not an audience call); returns the ``file_path`` TikTok gave it."""
        data = self.request(
            "POST",
            AUDIENCE_FILE_UPLOAD_PATH,
            data={"advertiser_id": advertiser_id, "calculate_type": calculate_type, "file_signature": md5},
            files={"file": (path.name, path.read_bytes(), "text/plain")},
        )
        file_path = data.get("file_path")
        if not file_path:
            raise TikTokApiError(None, "file upload answered without a file_path", path=AUDIENCE_FILE_UPLOAD_PATH)
        return str(file_path)

    def create_audience(
        self,
        advertiser_id: str,
        name: str,
        calculate_type: str,
        file_paths: Sequence[str],
        retention_in_days: int | None = None,
        *,
        before_retry: BeforeRetry | None = None,
    ) -> str:
        """Create a customer-file audience (one audience call); returns its id.

        ``retention_in_days`` is sent only when given: TikTok then expires the audience that many days after
        its creation, whatever later updates do; without it the audience lives 365 days past its last use or
        change (dmp_custom_audience_create.yml), which a regular sync keeps renewing.
        """
        body: dict[str, Any] = {
            "advertiser_id": advertiser_id,
            "custom_audience_name": name,
            "file_paths": list(file_paths),
            "calculate_type": calculate_type,
        }
        if retention_in_days is not None:
            body["retention_in_days"] = retention_in_days
        data = self.request("POST", AUDIENCE_CREATE_PATH, json=body, before_retry=before_retry)
        return str(data["custom_audience_id"])

    def update_audience(
        self,
        advertiser_id: str,
        audience_id: str,
        action: str,
        file_paths: Sequence[str],
        *,
        before_retry: BeforeRetry | None = None,
    ) -> None:
        """APPEND, REMOVE or REPLACE the audience's members with the uploaded files (one audience call)."""
        self.request(
            "POST",
            AUDIENCE_UPDATE_PATH,
            json={
                "advertiser_id": advertiser_id,
                "custom_audience_id": audience_id,
                "action": action,
                "file_paths": list(file_paths),
            },
            before_retry=before_retry,
        )

    def iter_report_pages(self, params: dict[str, Any], *, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """The pages of one ``report/integrated/get/`` query (rows in ``list``, counts in ``page_info``), checked
        whole: rows are told apart by their dimensions."""
        label = f"report of {params.get('start_date')}..{params.get('end_date')}"
        return self.iter_pages(REPORT_PATH, params, page_size=page_size, item_key=by_dimensions, label=label)

    def iter_ads(self, params: dict[str, Any], *, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every ad an ``ad/get/`` query lists (names, landing pages), checked whole by ``ad_id``."""
        label = f"ad listing of advertiser {params.get('advertiser_id')}"
        return self.paginate(ADS_PATH, params, page_size=page_size, item_key=by_field("ad_id"), label=label)

    def test_connection(self) -> tuple[bool, str]:
        """Check the token and say which advertisers it reaches (used by the UI's Test button)."""
        try:
            cfg = self.config
            if cfg.app_id and cfg.app_secret:
                reached = [
                    f"{a.get('advertiser_id')} ({a.get('advertiser_name')})" for a in self.authorised_advertisers()
                ]
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
