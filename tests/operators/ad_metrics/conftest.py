"""Fixtures of the ad-metric operator tests: the emulator on a frozen clock, an isolated AIRFLOW_HOME, the
operator's clock following the emulator's, a task context, and a spy on the hook's requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators import ad_metrics
from tests.conftest import EMULATOR_NOW, FakeTaskInstance

#: 07:30 in Los Angeles (PDT), 16:30 in Berlin, 00:30 on March 11 in Tokyo.
NOW = EMULATOR_NOW


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The emulator back at its seeded start (clock at NOW, no faults)."""
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """The operator's notion of now, NOW unless moved (call it with another instant)."""
    current = {"now": NOW}
    monkeypatch.setattr(ad_metrics, "utcnow", lambda: current["now"])

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


def spy_requests(operator: ad_metrics.TikTokAdMetricsOperator) -> list[tuple[str, dict[str, Any]]]:
    """Record (path, params) of every request the operator's hook sends, attempts included."""
    calls: list[tuple[str, dict[str, Any]]] = []
    hook = operator.hook
    original = hook._send_once

    def recording(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        calls.append((path, dict(kwargs.get("params") or {})))
        return original(method, path, **kwargs)

    hook._send_once = recording  # type: ignore[method-assign]
    return calls


def expected_record(row: dict[str, Any]) -> dict[str, Any]:
    """The record for one of the emulator's ``expected_daily_rows``, built from its own fields (its ``utm``
    is what the generator put in the landing page, not a parse of it)."""
    utm = row["utm"]
    return {
        "event_type": "Daily Ad Metrics",
        "date": row["stat_time_day"].isoformat(),
        "ad_platform": "tiktok",
        "ad_account_id": row["advertiser_id"],
        "campaign_id": row["campaign_id"],
        "campaign_name": row["campaign_name"],
        "ad_group_id": row["adgroup_id"],
        "ad_group_name": row["adgroup_name"],
        "ad_id": row["ad_id"],
        "ad_name": row["ad_name"],
        "ad_metrics": {
            "cost": float(row["spend"]),
            "impressions": row["impressions"],
            "clicks": row["clicks"],
            "conversions": row["conversion"],
        },
        "currency": row["currency"],
        "user_properties": {
            "utm_source": utm.get("utm_source", "tiktok"),
            "utm_medium": utm.get("utm_medium", "paid_social"),
            "utm_campaign": utm.get("utm_campaign", row["campaign_name"]),
            "utm_content": utm.get("utm_content", row["ad_name"]),
        },
    }


def expected_partition(emulator: EmulatorServer, advertiser_id: str, day: Any, include_deleted: bool = True) -> str:
    """The exact text of a day's partition file: one compact UTF-8 JSON object a line, by ad id."""
    import json

    rows = emulator.state.expected_daily_rows(advertiser_id, day, include_deleted)
    return "".join(
        json.dumps(expected_record(row), ensure_ascii=False, separators=(",", ":")) + "\n"
        for row in sorted(rows, key=lambda r: int(r["ad_id"]))
    )


def partition(root: Path, advertiser_id: str, day: Any) -> Path:
    """Where a day's partition lives."""
    return root / f"ad_account_id={advertiser_id}" / f"date={day.isoformat()}.jsonl"
