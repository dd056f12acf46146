"""48 hourly syncs of a changing cohort over two simulated UTC days: never more than 24 calls a day, exact result."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator
from tests.helpers.audiences import audience_calls, emails, hashed

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 10, 0, 30, tzinfo=timezone.utc)


class FakeTI:
    task_id = "sync"
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def cohort_at(hour: int) -> list[str]:
    """The cohort in hour ``hour``: 2,500 members, 20 joining every hour, 12 leaving on most hours."""
    leaving = 12 * hour - 12 * (hour // 5)  # every fifth hour nobody leaves: additions only
    joined = 20 * hour if hour % 7 else 20 * (hour - 1)  # every seventh hour nobody joins: removals only
    return emails(leaving, 2500 - leaving + joined)


def plain(moment: datetime) -> datetime:
    """A stdlib datetime for the trigger's pendulum moment (the emulator clock adds timedeltas to it)."""
    return datetime.fromtimestamp(moment.timestamp(), timezone.utc)


def write_csv(path: Path, members: list[str]) -> None:
    path.write_text("email\n" + "".join(m + "\n" for m in members))


def test_48_hourly_syncs_over_two_utc_days(emulator: EmulatorServer, state_root: Path, tmp_path: Path) -> None:
    from airflow_provider_tiktok.compat import TaskDeferred
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    # TikTok keeps a REPLACE "processing" for 90 minutes: every other hour a sync needs APPEND + REMOVE instead,
    # so the 24 calls run out in the afternoon and the rest of the day's syncs must wait for 00:00 UTC.
    emulator.state.settings.replace_processing_seconds = 90 * 60
    emulator.state.set_clock(START)
    source = tmp_path / "cohort.csv"
    hook = TikTokAdsHook()
    hook.sleep = lambda seconds: None

    def make_operator() -> TikTokAudienceSyncOperator:
        op = TikTokAudienceSyncOperator(
            task_id="sync",
            members=str(source),
            id_type="email",
            audience_name="Hourly cohort",
            state_uri=str(state_root),
            replace_processing_minutes=90,
        )
        op.__dict__["hook"] = hook
        return op

    def run(callable_, *args) -> dict | None:
        try:
            summary = callable_({"ti": FakeTI(), "run_id": f"run-{emulator.state.now().isoformat()}"}, *args)
        except TaskDeferred as deferral:
            waiting.append((deferral.trigger.moment, op))
            return None
        outcomes.append(summary)
        assert summary["audience_calls_used_today"] + summary["audience_calls_left_today"] == 24
        return summary

    waiting: list[tuple[datetime, TikTokAudienceSyncOperator]] = []
    outcomes: list[dict] = []
    deferred_per_day: Counter[str] = Counter()
    for hour in range(48):
        at = START + timedelta(hours=hour)
        # deferred tasks whose moment has come resume first, each syncing the cohort as it is by then
        due = [(moment, op) for moment, op in waiting if moment <= at]
        waiting[:] = [(moment, op) for moment, op in waiting if moment > at]
        for moment, op in due:
            assert (moment.hour, moment.minute, moment.second) == (0, 1, 0)  # 00:01 UTC
            emulator.state.set_clock(plain(moment))
            run(op.execute_complete, moment)
        emulator.state.set_clock(at)
        write_csv(source, cohort_at(hour))
        op = make_operator()
        if run(op.execute) is None:
            deferred_per_day[at.date().isoformat()] += 1
    # the last syncs of day two wait for day three's reset
    for moment, op in waiting:
        emulator.state.set_clock(plain(moment))
        run(op.execute_complete, moment)

    audience_id = outcomes[0]["audience_id"]
    per_day = audience_calls(emulator)[audience_id]
    assert max(per_day.values()) <= 24
    assert per_day["2026-03-10"] == 24
    assert per_day["2026-03-11"] == 24
    assert deferred_per_day["2026-03-10"] > 0
    assert deferred_per_day["2026-03-11"] > 0
    # TikTok never had to reject anything: no call over the limit, no REPLACE while processing, no small audience
    assert set(emulator.state.stats()["codes"]) == {"0"}
    # the ledger counted exactly what TikTok counted, day by day
    ledger = json.loads(next(state_root.glob("audiences/*/*/ledger.json")).read_text())
    assert {day: len(calls) for day, calls in ledger["calls"].items()} == per_day
    assert all(call["status"] == "accepted" for calls in ledger["calls"].values() for call in calls)
    # no sync ever cost more than two calls; a resumed sync applied everything pending at once
    assert all(len(s["actions"]) <= 2 for s in outcomes)
    assert {a for s in outcomes for a in s["actions"]} == {"CREATE", "APPEND", "REMOVE", "REPLACE"}
    # and after the last sync TikTok holds exactly the last cohort
    assert emulator.state.audience_members(audience_id) == hashed(cohort_at(47))
    assert outcomes[-1]["audience_size"] == len(cohort_at(47))
