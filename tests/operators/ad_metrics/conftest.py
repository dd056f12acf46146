"""Fixtures of the ad-metric operator tests: the emulator on a frozen clock, an isolated AIRFLOW_HOME, the
operator's clock following the emulator's, and a task context (the request spy and the expected records are in
tests.helpers.ad_metrics)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.utils import clock as provider_clock
from tests.helpers.ad_metrics import NOW
from tests.helpers.airflow_context import FakeTaskInstance


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The emulator back at its seeded start (clock at NOW, no faults)."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """The operator's notion of now, NOW unless moved (call it with another instant)."""
    current = {"now": NOW}
    monkeypatch.setattr(provider_clock, "utcnow", lambda: current["now"])

    def move(now: datetime) -> None:
        current["now"] = now

    return move


@pytest.fixture
def emulator_conn(emulator: EmulatorServer, set_tiktok_conn: Callable[..., None], home: Path, clock: Any) -> str:
    """``tiktok_default`` pointing at the emulator (advertiser A by default), with a high client rate limit."""
    set_tiktok_conn(host=emulator.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000")
    return "tiktok_default"


@pytest.fixture
def context() -> Callable[..., dict[str, Any]]:
    """A task context with a recording task instance and real outlet event accessors."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    def make(**extra: Any) -> dict[str, Any]:
        return {"ti": FakeTaskInstance(), "outlet_events": OutletEventAccessors(), **extra}

    return make
