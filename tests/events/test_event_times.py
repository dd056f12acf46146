"""ISO 8601 times to the second in UTC (``2026-03-10T15:30:07Z``) take a shortcut (the minute read once, then its
seconds): it must give what the full reading gives, for every second of many minutes, and refuse what it refuses."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.events import values
from airflow_provider_tiktok.events.rules import RowRejected
from airflow_provider_tiktok.events.values import parse_event_time

pytestmark = pytest.mark.unit


def full_reading(text: str) -> int:
    return int(datetime.fromisoformat(text[:-1] + "+00:00").timestamp() // 1)


def test_every_second_of_random_minutes_reads_as_the_full_reading():
    rng = random.Random(7)
    start = datetime(1971, 1, 1, tzinfo=timezone.utc)
    for _ in range(300):
        minute = start + timedelta(minutes=rng.randrange(60 * 24 * 365 * 80))
        for second in range(60):
            text = (minute + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert parse_event_time(text) == full_reading(text), text


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-10T15:30:60Z",
        "2026-03-10T15:60:07Z",
        "2026-02-30T15:30:07Z",
        "2026-03-10T15:3a:07Z",
        "2026-13-10T15:30:07Z",
    ],
)
def test_what_the_full_reading_refuses_is_refused(text):
    with pytest.raises(RowRejected, match="is not ISO 8601"):
        parse_event_time(text, 3)


def test_other_spellings_read_as_before():
    assert parse_event_time("2026-03-10 15:30:07Z") == parse_event_time("2026-03-10T15:30:07+00:00") == 1773156607
    assert parse_event_time("2026-03-10T15:30:07z") == 1773156607
    assert parse_event_time("2026-03-10T16:30:07+01:00") == 1773156607


def test_the_minutes_read_are_bounded(monkeypatch):
    monkeypatch.setattr(values, "_MINUTES_KEPT", 5)
    monkeypatch.setattr(values, "_MINUTES", {})
    for minute in range(30):
        assert parse_event_time(f"2026-03-10T15:{minute:02d}:07Z") == 1773154807 + minute * 60
    assert len(values._MINUTES) <= 5
