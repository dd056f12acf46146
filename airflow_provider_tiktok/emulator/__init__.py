"""A local TikTok API for Business (v1.3) emulator: the real envelope, codes and limits over seeded data.

Run it with ``python -m airflow_provider_tiktok.emulator --port 8765``; in tests use
:class:`airflow_provider_tiktok.emulator.testing.EmulatorServer`. This module holds only the seed
constants, so importing it needs neither FastAPI nor uvicorn.
"""

from __future__ import annotations

#: The app the emulator knows: OAuth calls must name it with its secret.
APP_ID = "7100000000000000001"
APP_SECRET = "emulator-app-secret"
#: A long-lived advertiser token, valid for every seeded advertiser with every scope.
ACCESS_TOKEN = "emulator-access-token"
#: A TikTok-account refresh token (valid one year from the emulator's start) for ``tt_user/oauth2/refresh_token/``.
REFRESH_TOKEN = "emulator-refresh-token"

#: "Demo Store US": USD, America/Los_Angeles, 1,000 ads (some deleted, some paused).
ADVERTISER_A = "7000000000000000001"
#: "Demo Shop DE": EUR, Europe/Berlin, 1,500 ads (ad/get needs two pages of 1,000).
ADVERTISER_B = "7000000000000000002"
#: "Demo Store JP": JPY (no minor unit), Asia/Tokyo, 20 ads.
ADVERTISER_C = "7000000000000000003"
ADVERTISER_IDS = (ADVERTISER_A, ADVERTISER_B, ADVERTISER_C)
#: The TikTok user behind every token (``user/info/``): core_user_id, display name, e-mail (answered masked).
USER_ID = "7300000000000000001"
USER_DISPLAY_NAME = "Demo Marketer"
USER_EMAIL = "demo.marketer@example.com"

DEFAULT_SEED = 42
#: Every API path starts with this prefix, as on business-api.tiktok.com.
API_PREFIX = "/open_api/v1.3"

#: Scope names the emulator checks, and the numeric ids ``oauth2/access_token/`` reports for them.
SCOPES: dict[str, int] = {
    "ad_account_management": 1,
    "ads_management": 2,
    "audience_management": 3,
    "reporting": 4,
    "events": 5,
}

__all__ = [
    "ACCESS_TOKEN",
    "ADVERTISER_A",
    "ADVERTISER_B",
    "ADVERTISER_C",
    "ADVERTISER_IDS",
    "API_PREFIX",
    "APP_ID",
    "APP_SECRET",
    "DEFAULT_SEED",
    "REFRESH_TOKEN",
    "SCOPES",
    "USER_DISPLAY_NAME",
    "USER_EMAIL",
    "USER_ID",
]
