"""Audience-sync fixtures: one emulator per session on a frozen clock, a connection to it, a state folder."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.conftest import EMULATOR_NOW

FIXED_NOW = EMULATOR_NOW


def sha256(text: str) -> str:
    """SHA-256 hex of a normalised identifier, computed independently of the provider's code."""
    return hashlib.sha256(text.encode()).hexdigest()


def emails(start: int, count: int) -> list[str]:
    """Fake members ``member<i>@example.com``."""
    return [f"member{i}@example.com" for i in range(start, start + count)]


def hashed(values: list[str]) -> list[str]:
    """The sorted hashes TikTok should hold for these (already normalised) e-mails."""
    return sorted(sha256(v) for v in values)


@pytest.fixture
def emulator(emulator_server: EmulatorServer, set_tiktok_conn: Callable[..., None]) -> EmulatorServer:
    """The emulator back at its seeded start, and ``tiktok_default`` pointing at it."""
    emulator_server.reset()
    set_tiktok_conn(
        host=emulator_server.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000"
    )
    return emulator_server


@pytest.fixture
def state_root(tmp_path: Path) -> Path:
    """A fresh state folder for the ledger and snapshots."""
    return tmp_path / "state"


@pytest.fixture
def make_hook(emulator: EmulatorServer) -> Callable[[], Any]:
    """A new hook on the emulator that never sleeps between retries."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    def make() -> TikTokAdsHook:
        hook = TikTokAdsHook()
        hook._sleep = lambda seconds: None
        return hook

    return make


def audience_calls(emulator: EmulatorServer) -> dict[str, dict[str, int]]:
    """Audience calls per audience per UTC day, as the emulator counted them."""
    return emulator.state.stats()["audience_calls"]


def path_calls(emulator: EmulatorServer, suffix: str) -> int:
    """Requests the emulator answered on a path ending in ``suffix``."""
    return sum(n for path, n in emulator.state.stats()["calls"].items() if path.rstrip("/").endswith(suffix))
