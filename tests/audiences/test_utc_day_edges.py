"""Never more than 24 audience calls a UTC day at TikTok, across 00:00 UTC, with the worker's clock off by a few
seconds and update calls delayed in flight past midnight: measured at the emulator, which counts every call
by its own clock when it handles it (its own refusal at 24 switched off, so nothing hides an excess)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
from airflow_provider_tiktok.audiences.ledger import AudienceLedger, DailyCallLimitReached, audience_key
from airflow_provider_tiktok.audiences.plan import utc_day
from airflow_provider_tiktok.audiences.sync import sync_audience
from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.audiences import audience_calls, emails

pytestmark = pytest.mark.integration

NAME = "Midnight cohort (test)"
DAY, NEXT_DAY = "2026-03-10", "2026-03-11"
MIDNIGHT = datetime(2026, 3, 11, tzinfo=timezone.utc)
#: Real seconds the emulator's running clock starts before midnight; update calls are delayed longer than that.
LEAD_SECONDS = 1.0
DELAY_MS = 2500


def cohort(number: int) -> list[tuple[int, dict[str, Any]]]:
    """Sync ``number``'s members: the base list, with a few extra members on odd syncs (each sync: one call)."""
    values = emails(0, 1200) + (emails(10_000 + number, 3) if number % 2 else [])
    return [(row, {"value": value}) for row, value in enumerate(values, start=1)]


class Driver:
    """Syncs of one audience on a worker whose clock is ``skew`` seconds off the emulator's (TikTok's)."""

    def __init__(self, emulator: EmulatorServer, make_hook: Callable[[], Any], state_root: Any, skew: float) -> None:
        self.emulator, self.make_hook, self.state_root = emulator, make_hook, state_root
        self.skew = timedelta(seconds=skew)
        self.spec = AudienceSyncSpec(
            advertiser_id=ADVERTISER_A, id_type="email", audience_name=NAME, state_uri=str(state_root)
        )
        self.synced = 0
        self.audience_id = ""

    def worker_clock(self) -> datetime:
        return self.emulator.state.now() + self.skew

    def sync(self) -> bool:
        """One sync of the next cohort; False when the ledger refuses it for the daily limit (nothing sent)."""
        try:
            summary = sync_audience(self.make_hook(), self.spec, cohort(self.synced), clock=self.worker_clock)
        except DailyCallLimitReached:
            return False
        assert summary["actions"] in (["CREATE"], ["APPEND"], ["REMOVE"])
        self.synced += 1
        self.audience_id = summary["audience_id"]
        return True

    def sync_until_refused(self) -> int:
        """Sync until the ledger refuses; returns how many syncs went through."""
        done = 0
        while self.sync():
            done += 1
        return done

    def around_midnight(self, delay_ms: int) -> None:
        """Run the emulator's clock in real time from just before midnight, update calls delayed by ``delay_ms``,
        and keep syncing until a few seconds past midnight (refused syncs retried every 0.1 s)."""
        state = self.emulator.state
        if delay_ms:
            with state.lock:
                state.faults.add(f"path=custom_audience/update,kind=delay,ms={delay_ms}")
        start = MIDNIGHT - timedelta(seconds=LEAD_SECONDS)
        state.set_clock(offset_seconds=(start - datetime.now(timezone.utc)).total_seconds())
        while state.now() < MIDNIGHT + timedelta(seconds=2):
            if not self.sync():
                time.sleep(0.1)
        assert state.wait_idle(10)
        with state.lock:
            state.faults.clear()

    def tiktok_counts(self) -> dict[str, int]:
        return audience_calls(self.emulator).get(self.audience_id, {})

    def ledger_counts(self) -> dict[str, int]:
        book = AudienceLedger(self.state_root, ADVERTISER_A, audience_key(None, NAME))
        with book.locked():
            return {day: book.calls_used(datetime.fromisoformat(f"{day}T12:00:00+00:00")) for day in (DAY, NEXT_DAY)}


def drive(
    emulator: EmulatorServer, make_hook: Callable[[], Any], state_root: Any, skew: float, delay_ms: int, used: int
) -> tuple[Driver, tuple[dict[str, int], dict[str, int]]]:
    """``used`` calls on the first day (at 23:00), syncs through midnight, then the next day's budget spent at 00:05."""
    emulator.state.settings.audience_daily_limit = 1000  # count, do not refuse: an excess must show in the counts
    emulator.state.set_clock(datetime(2026, 3, 10, 23, 0, tzinfo=timezone.utc))
    driver = Driver(emulator, make_hook, state_root, skew)
    for _ in range(used):
        assert driver.sync()
    driver.around_midnight(delay_ms)
    crossing = (driver.tiktok_counts(), driver.ledger_counts())
    emulator.state.set_clock(MIDNIGHT + timedelta(minutes=5))
    driver.sync_until_refused()
    return driver, crossing


@pytest.mark.parametrize(
    ("skew", "delay_ms", "used"),
    [
        pytest.param(-5, DELAY_MS, 23, id="worker-5s-call-delayed-past-midnight"),
        pytest.param(5, 0, 24, id="worker+5s-first-day-full"),
        pytest.param(5, DELAY_MS, 23, id="worker+5s-call-delayed-past-midnight"),
    ],
)
def test_never_more_than_24_at_tiktok_across_midnight(
    emulator: EmulatorServer, make_hook: Callable[[], Any], state_root: Any, skew: float, delay_ms: int, used: int
) -> None:
    driver, (tiktok_then, ledger_then) = drive(emulator, make_hook, state_root, skew, delay_ms, used)
    tiktok, ledger = driver.tiktok_counts(), driver.ledger_counts()
    assert max(tiktok.values()) <= 24, tiktok
    # the ledger never counted fewer calls than TikTok, on either day, at midnight or after
    for day in (DAY, NEXT_DAY):
        assert ledger_then[day] >= tiktok_then.get(day, 0), (day, ledger_then, tiktok_then)
        assert ledger[day] >= tiktok.get(day, 0), (day, ledger, tiktok)
    assert max(ledger.values()) <= 24
    if delay_ms:  # the call sent before midnight reached TikTok after it
        assert tiktok_then.get(NEXT_DAY) == 1
    # the guard costs at most the one call near midnight: the next day's budget is otherwise all used
    assert tiktok[NEXT_DAY] >= 23
    assert sum(tiktok.values()) == driver.synced
    assert set(emulator.state.stats()["codes"]) == {"0"}


@pytest.mark.parametrize(
    ("skew", "delay_ms", "used", "day"),
    [
        pytest.param(-5, DELAY_MS, 23, NEXT_DAY, id="worker-5s-call-delayed-past-midnight"),
        pytest.param(5, 0, 24, DAY, id="worker+5s-first-day-full"),
    ],
)
def test_without_the_guard_tiktok_counts_more_than_24(
    emulator: EmulatorServer,
    make_hook: Callable[[], Any],
    state_root: Any,
    monkeypatch: pytest.MonkeyPatch,
    skew: float,
    delay_ms: int,
    used: int,
    day: str,
) -> None:
    """The same drives with the guard off (a call counted on its reservation day only) exceed TikTok's limit: the
    delayed call counts on the old day in the ledger but on the new one at TikTok; a worker ahead of TikTok
    spends a new day's budget while TikTok is still on the old one."""
    monkeypatch.setattr(AudienceLedger, "days_counted", lambda self, now: [utc_day(now)])
    driver, _ = drive(emulator, make_hook, state_root, skew, delay_ms, used)
    assert driver.tiktok_counts()[day] > 24
