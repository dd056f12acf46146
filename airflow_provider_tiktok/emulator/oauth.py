"""OAuth endpoints: the auto-approving consent page, code exchange, revocation, and TikTok-account refresh."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from airflow_provider_tiktok.emulator import APP_ID, APP_SECRET, SCOPES, params
from airflow_provider_tiktok.emulator.envelope import INVALID_GRANT_TYPE, INVALID_PARAMS, NO_PERMISSION, ApiError
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route
from airflow_provider_tiktok.emulator.state import REFRESH_TOKEN_SECONDS, TT_USER_TOKEN_SECONDS, EmulatorState

OPEN_ID = "emulator-open-id"
#: TikTok-account (tt_user) scopes reported by the refresh endpoint.
TT_USER_SCOPE = "user.info.basic,biz.creator.info,biz.creator.insights"


def _check_app(app_id: str | None, secret: str | None) -> None:
    """40001 unless the app id and secret are the emulator's."""
    if app_id != APP_ID or secret != APP_SECRET:
        raise ApiError(NO_PERMISSION, "App id or secret is invalid.")


def authorize_redirect(state: EmulatorState, query: dict[str, str]) -> str:
    """Where the consent page sends the browser: ``redirect_uri`` plus ``auth_code`` and ``state``."""
    if query.get("app_id") != APP_ID:
        raise ApiError(NO_PERMISSION, "app_id: Unknown app.")
    redirect_uri = params.required_text(query, "redirect_uri")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(INVALID_PARAMS, "redirect_uri: Must be an absolute http(s) URL.")
    added = urlencode({"auth_code": state.issue_auth_code(), "state": query.get("state", "")})
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def access_token(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST oauth2/access_token/``: an authorisation code for a long-lived advertiser token."""
    p = request.params
    _check_app(params.text(p, "app_id"), params.text(p, "secret"))
    token = state.exchange_auth_code(params.required_text(p, "auth_code"))
    return {
        "access_token": token.value,
        "advertiser_ids": list(token.advertiser_ids),
        "scope": sorted(SCOPES[name] for name in token.scopes),
    }


def revoke_token(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST oauth2/revoke_token/``: revoke ``access_token`` (default: the calling token)."""
    p = request.params
    _check_app(params.text(p, "app_id"), params.text(p, "secret"))
    caller = request.token.value if request.token else None
    state.revoke_token(params.text(p, "access_token", default=caller) or "")
    return {}


def advertiser_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET oauth2/advertiser/get/``: the advertisers the calling token may act for."""
    p = request.params
    _check_app(params.text(p, "app_id"), params.text(p, "secret"))
    ids = request.token.advertiser_ids if request.token else ()
    return {"list": [{"advertiser_id": i, "advertiser_name": state.dataset.advertisers[i].name} for i in ids]}


def refresh_token(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``POST tt_user/oauth2/refresh_token/``: a 24-hour access token and a rotated refresh token."""
    p = request.params
    _check_app(params.text(p, "client_id"), params.text(p, "client_secret"))
    if params.text(p, "grant_type") != "refresh_token":
        raise ApiError(INVALID_GRANT_TYPE, "grant_type: Must be refresh_token.")
    token, renewed = state.refresh(params.required_text(p, "refresh_token"))
    return {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": TT_USER_TOKEN_SECONDS,
        "refresh_token": renewed.value,
        "refresh_token_expires_in": min(REFRESH_TOKEN_SECONDS, int((renewed.expires_at - state.now()).total_seconds())),
        "open_id": OPEN_ID,
        "scope": TT_USER_SCOPE,
    }


ROUTES = [
    Route("POST", "oauth2/access_token/", access_token, None),
    Route("POST", "tt_user/oauth2/refresh_token/", refresh_token, None),
    Route("POST", "oauth2/revoke_token/", revoke_token, ""),
    Route("GET", "oauth2/advertiser/get/", advertiser_get, ""),
]
