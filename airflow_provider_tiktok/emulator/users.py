"""``GET user/info/``: the TikTok user behind the calling token (any valid token, any scope).

No TikTok yml covers this endpoint and TikTok's SDK does not have it; the answer follows our fact sheet
(``display_name``, ``email`` masked, ``core_user_id``) and the one public connector that reads it
(``create_time``, ``display_name``, masked ``email``). Some public tools call it first, to test a token.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow_provider_tiktok.emulator import USER_DISPLAY_NAME, USER_EMAIL, USER_ID
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route
from airflow_provider_tiktok.emulator.state import EmulatorState

#: When the seeded user signed up (Unix seconds).
USER_CREATE_TIME = int(datetime(2023, 1, 9, 8, 30, tzinfo=timezone.utc).timestamp())
#: Every token belongs to the seeded user; a table keeps room for more.
USERS: dict[str, dict[str, Any]] = {
    USER_ID: {"display_name": USER_DISPLAY_NAME, "email": USER_EMAIL, "create_time": USER_CREATE_TIME},
}


def mask_email(email: str) -> str:
    """``demo.marketer@example.com`` -> ``d***@example.com`` (TikTok never answers the address in clear)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def user_info(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """The token's user: display name, masked e-mail, ``core_user_id`` and sign-up time."""
    core_user_id = request.token.core_user_id if request.token is not None else USER_ID
    user = USERS[core_user_id]
    return {
        "display_name": user["display_name"],
        "email": mask_email(user["email"]),
        "core_user_id": core_user_id,
        "create_time": user["create_time"],
    }


ROUTES = [Route("GET", "user/info/", user_info, "")]
