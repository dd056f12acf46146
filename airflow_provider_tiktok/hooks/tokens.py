"""Access tokens of the TikTok hook: the refreshed pair kept in a masked Airflow Variable, and OAuth."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError

if TYPE_CHECKING:
    from airflow_provider_tiktok.hooks.connection import TikTokConnectionConfig

log = logging.getLogger(__name__)

TOKEN_VARIABLE_PREFIX = "tiktok_ads_token__"
#: TikTok's token endpoints, called without the Access-Token header (they create tokens).
ACCESS_TOKEN_PATH = "oauth2/access_token/"
REFRESH_TOKEN_PATH = "tt_user/oauth2/refresh_token/"
TOKENLESS_PATHS = frozenset({ACCESS_TOKEN_PATH, REFRESH_TOKEN_PATH})


def mask(secret: str | None) -> None:
    """Register a secret with Airflow's log masker (a no-op for empty values)."""
    if secret:
        from airflow_provider_tiktok.compat import mask_secret

        mask_secret(secret)


class TokenMixin:
    """The token side of :class:`~airflow_provider_tiktok.hooks.tiktok.TikTokAdsHook` (mixed into it)."""

    tiktok_conn_id: str
    _token_lock: threading.Lock
    _access_token: str | None

    if TYPE_CHECKING:  # provided by the hook

        @property
        def config(self) -> TikTokConnectionConfig: ...

        def request(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]: ...

    def _current_token(self) -> str | None:
        """The access token: a refreshed one stored by an earlier run wins over the connection's."""
        if self._access_token is None:
            with self._token_lock:
                if self._access_token is None:
                    stored = self._load_stored_token() if self.config.refresh_token else None
                    self._access_token = (stored or {}).get("access_token") or self.config.access_token
                    mask(self._access_token)
        return self._access_token

    @property
    def token_variable_key(self) -> str:
        """The Airflow Variable that keeps refreshed tokens (its name makes Airflow mask its value)."""
        return f"{TOKEN_VARIABLE_PREFIX}{self.tiktok_conn_id}"

    def _load_stored_token(self) -> dict[str, Any] | None:
        from airflow_provider_tiktok.compat import Variable

        try:
            raw = Variable.get(self.token_variable_key, default=None)
        except Exception:  # no metadata access (e.g. outside a task): use the connection's token
            log.info("No stored TikTok token available for %s; using the connection's", self.tiktok_conn_id)
            return None
        if not raw:
            return None
        stored: dict[str, Any] = raw if isinstance(raw, dict) else json.loads(raw)
        for secret in (stored.get("access_token"), stored.get("refresh_token")):
            mask(secret)
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
            REFRESH_TOKEN_PATH,
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
        mask(access_token)
        mask(refresh_token)
        with self._token_lock:
            self._access_token = access_token
        self._store_token({"access_token": access_token, "refresh_token": refresh_token or cfg.refresh_token})
        log.info("Refreshed the TikTok access token of connection %s", self.tiktok_conn_id)
        return str(access_token)

    def _store_token(self, pair: dict[str, Any]) -> None:
        from airflow_provider_tiktok.compat import Variable

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
            "POST", ACCESS_TOKEN_PATH, json={"app_id": cfg.app_id, "secret": cfg.app_secret, "auth_code": auth_code}
        )
        mask(data.get("access_token"))
        return data
