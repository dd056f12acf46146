"""Event-upload fixtures: one emulator per session on a frozen clock, the connection to it, an isolated
AIRFLOW_HOME, the operator's clock on the emulator's, a recording task context, and realistic records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators import events as events_op
from tests.conftest import EMULATOR_NOW, FakeTaskInstance

NOW = EMULATOR_NOW
NOW_S = int(NOW.timestamp())
PIXEL = "CPIXEL0000000000001"
DATA = Path(__file__).parents[2] / "data" / "events"


def sha(text: str) -> str:
    """SHA-256 hex of an already normalised identifier, computed independently of the provider."""
    return hashlib.sha256(text.encode()).hexdigest()


def record(n: int, **overrides: Any) -> dict[str, Any]:
    """A realistic purchase row: raw e-mail and US phone, ISO time ``n`` seconds before an hour ago."""
    row = {
        "event": "Purchase",
        "event_time": datetime.fromtimestamp(NOW_S - 3600 - n, timezone.utc).isoformat(),
        "email": f" Customer{n}@Example.com ",
        "phone": f"(415) 555-{n % 10_000:04d}",
        "page_url": f"https://shop.example.com/checkout/{n}",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
        "content_id": f"sku-{n % 50}",
        "price": "19.99",
        "quantity": 1 + n % 3,
        "order_id": f"order-{n}",
    }
    row.update(overrides)
    return row


def records(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [record(n) for n in range(start, start + count)]


@pytest.fixture
def emulator(
    emulator_server: EmulatorServer, monkeypatch: pytest.MonkeyPatch, home: Path, set_tiktok_conn: Callable[..., None]
) -> EmulatorServer:
    """The emulator at its seeded start, ``tiktok_default`` pointing at it, the operator's clock at NOW."""
    emulator_server.reset()
    set_tiktok_conn(
        host=emulator_server.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000"
    )
    monkeypatch.setattr(events_op, "utcnow", lambda: NOW)
    return emulator_server


@pytest.fixture
def context() -> Callable[..., dict[str, Any]]:
    """A task context for ``run_id`` (the same run id makes a retry of the same run)."""

    def make(run_id: str = "manual__2026-03-10T15:30:00+00:00") -> dict[str, Any]:
        return {"ti": FakeTaskInstance(run_id, dag_id="events_dag", task_id="upload"), "run_id": run_id}

    return make


def operator(**kwargs: Any) -> events_op.TikTokEventsUploadOperator:
    """An upload operator whose hook never sleeps between retries."""
    op = events_op.TikTokEventsUploadOperator(**{"task_id": "upload", "event_source_id": PIXEL, **kwargs})
    op.hook._sleep = lambda seconds: None
    return op


def track_calls(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """The emulator's log of ``event/track/`` requests (faulted ones included)."""
    return [entry for entry in emulator.state.requests() if entry["path"].endswith("event/track/")]


def receipts(emulator: EmulatorServer, pixel: str = PIXEL) -> dict[str, int]:
    """How many times the emulator accepted each event_id for ``pixel``."""
    return emulator.state.event_summary(pixel)["receipts"]
