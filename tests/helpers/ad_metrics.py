"""Ad-metric import helpers: the frozen time, a spy on the hook's requests, the expected records and partitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators import ad_metrics
from tests.helpers.clock import EMULATOR_NOW

#: 07:30 in Los Angeles (PDT), 16:30 in Berlin, 00:30 on March 11 in Tokyo.
NOW = EMULATOR_NOW


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
    is what the generator put in the landing page with the emulator's own macro filling, None where only a click
    could fill one: not a parse of the URL)."""
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
