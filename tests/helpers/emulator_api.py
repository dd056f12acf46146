"""A tiny client of the emulator's API for the emulator's own tests, and the hashing clients do."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, API_PREFIX
from tests.helpers.clock import EMULATOR_NOW

#: The session server's frozen clock: 07:30 in Los Angeles, 16:30 in Berlin, 00:30 the next day in Tokyo.
FIXED_NOW = EMULATOR_NOW


class Api:
    """Calls the emulator like a TikTok client and returns the parsed envelope."""

    def __init__(self, base_url: str) -> None:
        """One session for every call."""
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, params: dict[str, Any] | None = None, *, token: str | None = ACCESS_TOKEN) -> dict:
        """GET ``/open_api/v1.3/<path>`` and return the JSON envelope (asserting HTTP 200)."""
        headers = {"Access-Token": token} if token else {}
        response = self.session.get(f"{self.base_url}{API_PREFIX}/{path}", params=params, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def post(
        self, path: str, body: dict[str, Any] | None = None, *, token: str | None = ACCESS_TOKEN, **kwargs: Any
    ) -> dict:
        """POST JSON (or ``files``/``data`` for multipart) and return the JSON envelope (asserting HTTP 200)."""
        headers = {"Access-Token": token} if token else {}
        response = self.session.post(
            f"{self.base_url}{API_PREFIX}/{path}", json=body, headers=headers, timeout=30, **kwargs
        )
        assert response.status_code == 200, response.text
        return response.json()


def sha256(value: str) -> str:
    """The SHA-256 hex of ``value`` (how clients hash identifiers)."""
    return hashlib.sha256(value.encode()).hexdigest()
