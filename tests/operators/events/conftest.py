"""Event-upload fixtures: one emulator per session on a frozen clock, the connection to it, an isolated
AIRFLOW_HOME, the operator's clock on the emulator's, and a recording task context (realistic records and the
other helpers are in tests.helpers.events)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.utils import clock
from tests.helpers.airflow_context import FakeTaskInstance
from tests.helpers.events import NOW


@pytest.fixture
def emulator(
    emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, home: Path, set_tiktok_conn: Callable[..., None]
) -> EmulatorServer:
    """The emulator at its seeded start, ``tiktok_default`` pointing at it, the operator's clock at NOW."""
    emulator_server.reset()
    set_tiktok_conn(
        host=emulator_server.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000"
    )
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    return emulator_server


@pytest.fixture
def context() -> Callable[..., dict[str, Any]]:
    """A task context for ``run_id`` (the same run id makes a retry of the same run)."""

    def make(run_id: str = "manual__2026-03-10T15:30:00+00:00") -> dict[str, Any]:
        return {"ti": FakeTaskInstance(run_id, dag_id="events_dag", task_id="upload"), "run_id": run_id}

    return make
