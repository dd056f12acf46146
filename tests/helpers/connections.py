"""Fake TikTok credentials, the requests-mock base URL, and a ``tiktok_ads`` connection in env-var form."""

from __future__ import annotations

import json

FAKE_TOKEN = "tok-7f3c9a1e2b4d6f8091a2b3c4d5e6f708"
FAKE_SECRET = "app-secret-5e6f7081a2b3c4d5"
TEST_BASE_URL = "https://tiktok.test"


def conn_json(host: str = TEST_BASE_URL, token: str = FAKE_TOKEN, **extra: object) -> str:
    """A ``tiktok_ads`` connection as Airflow's JSON env-var form."""
    extras = {"app_id": "7100000000000000001", "app_secret": FAKE_SECRET, "advertiser_id": "7000000000000000001"}
    extras.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps({"conn_type": "tiktok_ads", "host": host, "password": token, "extra": extras})
