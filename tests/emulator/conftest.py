"""Emulator fixtures: one live server per session on a frozen clock, reset before every test, and a tiny client
(tests.helpers.emulator_api)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.emulator_api import Api, sha256


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session emulator, back at its seeded start (clock, tokens, audiences, events, faults)."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def api(emulator: EmulatorServer) -> Api:
    """A client of the reset emulator, with the seed access token."""
    return Api(emulator.url)


@pytest.fixture
def hashed_ids() -> Callable[[int, int], list[str]]:
    """Distinct hashed e-mail ids ``start``..``start+count-1``."""

    def make(count: int, start: int = 0) -> list[str]:
        return [sha256(f"user{i}@example.com") for i in range(start, start + count)]

    return make
