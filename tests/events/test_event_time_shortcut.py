"""Event times in the common ISO shape (``2026-03-10T14:30:00Z``) are read without building a datetime: the
result, or the refusal, must be what ``datetime.fromisoformat`` gives, on seeded random times with fields in
and out of range."""

from __future__ import annotations

import random
from datetime import timezone

import pytest

from airflow_provider_tiktok.events import values
from airflow_provider_tiktok.events.rules import RowRejected
from airflow_provider_tiktok.events.values import parse_event_time

pytestmark = pytest.mark.unit


def by_fromisoformat(text: str) -> int | str:
    """The event time as the general path reads it (``fromisoformat``), or its refusal."""
    try:
        value = values._time_text(text, 1)
    except RowRejected as err:
        return err.reason
    if isinstance(value, int):
        return value
    return int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp() // 1)


def read(text: str) -> int | str:
    try:
        return parse_event_time(text, 1)
    except RowRejected as err:
        return err.reason


def test_common_iso_times_read_as_fromisoformat_reads_them():
    rng = random.Random(21)
    taken = 0
    for _ in range(50_000):
        fields = [rng.randint(1, 9999), rng.randint(0, 13), rng.randint(0, 32)]
        fields += [rng.choice([rng.randint(0, 23), rng.randint(0, 99)]), rng.randint(0, 61), rng.randint(0, 61)]
        year, month, day, hour, minute, second = fields
        offset = rng.choice(["Z", "z", "+00:00", "", "+01:00", "Z ", " "])
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{offset}"
        taken += values._utc_seconds(text) is not None
        assert read(text) == by_fromisoformat(text), text
    assert taken > 10_000  # most samples take the shortcut


@pytest.mark.parametrize(
    "text",
    ["2026-03-10T14:30:00Z", " 2026-03-10T14:30:00z ", "2024-02-29T23:59:59", "2026-03-10T14:30:00+00:00"],
)
def test_the_shortcut_takes_the_common_shapes(text):
    assert values._utc_seconds(text) == by_fromisoformat(text)


@pytest.mark.parametrize(
    "text", ["2026-02-29T10:00:00Z", "2026-03-10T24:00:00Z", "2026-03-10T14:30:60Z", "2026-03-10 14:30:00Z"]
)
def test_other_texts_take_fromisoformat(text):
    assert values._utc_seconds(text) is None
    assert read(text) == by_fromisoformat(text)
