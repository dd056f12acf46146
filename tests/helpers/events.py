"""Event-upload helpers: the frozen time, the test pixel, realistic purchase rows, the operator, emulator counts."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators import events as events_op
from tests.helpers.clock import EMULATOR_NOW

NOW = EMULATOR_NOW
NOW_S = int(NOW.timestamp())
PIXEL = "CPIXEL0000000000001"
DATA = Path(__file__).parents[1] / "data" / "events"


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


def operator(**kwargs: Any) -> events_op.TikTokEventsUploadOperator:
    """An upload operator whose hook never sleeps between retries."""
    op = events_op.TikTokEventsUploadOperator(**{"task_id": "upload", "event_source_id": PIXEL, **kwargs})
    op.hook.sleep = lambda seconds: None
    return op


def track_calls(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """The emulator's log of ``event/track/`` requests (faulted ones included)."""
    return [entry for entry in emulator.state.requests() if entry["path"].endswith("event/track/")]


def receipts(emulator: EmulatorServer, pixel: str = PIXEL) -> dict[str, int]:
    """How many times the emulator accepted each event_id for ``pixel``."""
    return emulator.state.event_summary(pixel)["receipts"]
