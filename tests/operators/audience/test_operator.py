"""TikTokAudienceSyncOperator: arguments, summary and log line, extra link, defer / skip / fail at the limit."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.links import XCOM_LINK_KEY, TikTokLink
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator
from tests.helpers.audiences import emails, hashed

MIDNIGHT_AND_A_MINUTE = datetime(2026, 3, 11, 0, 1, tzinfo=timezone.utc)


class FakeTI:
    """The bits of a task instance the operator touches."""

    task_id = "sync"
    try_number = 1

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def context() -> dict[str, Any]:
    return {"ti": FakeTI(), "run_id": "scheduled__2026-03-10T15:00:00+00:00"}


def operator(emulator: EmulatorServer, state_root: Path, **kwargs: Any) -> TikTokAudienceSyncOperator:
    args = {
        "task_id": "sync",
        "members": emails(0, 1200),
        "id_type": "email",
        "audience_name": "Operator test",
        "state_uri": str(state_root),
        **kwargs,
    }
    op = TikTokAudienceSyncOperator(**args)
    op.hook.sleep = lambda seconds: None
    return op


@pytest.mark.unit
def test_arguments_are_checked() -> None:
    good = {"task_id": "t", "members": ["a@example.com"], "id_type": "email", "audience_name": "A"}
    for bad, message in [
        ({"id_type": "ssn"}, "id_type"),
        ({"mode": "sync"}, "mode"),
        ({"on_quota_exhausted": "wait"}, "on_quota_exhausted"),
        ({"members": None}, "exactly one of members or sql"),
        ({"sql": "select 1"}, "exactly one of members or sql"),
        ({"audience_name": None}, "audience_id, or audience_name"),
    ]:
        with pytest.raises(TikTokConfigError, match=message):
            TikTokAudienceSyncOperator(**{**good, **bad})
    with pytest.raises(TypeError):
        TikTokAudienceSyncOperator("t", members=[], id_type="email", audience_name="A")  # keyword-only
    assert "tiktok_conn_id" in TikTokAudienceSyncOperator.template_fields
    assert {"members", "audience_id", "audience_name", "sql", "state_uri"} <= set(
        TikTokAudienceSyncOperator.template_fields
    )


@pytest.mark.integration
def test_execute_returns_the_summary_logs_one_line_and_pushes_the_link(
    emulator: EmulatorServer, state_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = context()
    summary = operator(emulator, state_root).execute(ctx)
    assert summary["actions"] == ["CREATE"]
    assert summary["audience_calls_left_today"] == 23
    assert emulator.state.audience_members(summary["audience_id"]) == hashed(emails(0, 1200))
    assert ctx["ti"].xcom == {XCOM_LINK_KEY: f"https://ads.tiktok.com/i18n/dmp/audience/list?aadvid={ADVERTISER_A}"}
    out = capsys.readouterr().out  # the task logger writes structured lines to stdout
    lines = [line for line in out.splitlines() if "TikTok audience sync: {" in line]
    assert len(lines) == 1
    logged, _ = json.JSONDecoder().raw_decode(lines[0].split("TikTok audience sync: ", 1)[1])
    assert logged == summary
    assert "member0@example.com" not in out
    # the run is named in the ledger entry of the call
    ledger = next(state_root.glob("audiences/*/*/ledger.json"))
    entry = json.loads(ledger.read_text())["calls"]["2026-03-10"][0]
    assert entry["run"] == "scheduled__2026-03-10T15:00:00+00:00/sync#1"


@pytest.mark.unit
def test_extra_link_reads_the_pushed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_tiktok.compat import XCom

    asked: list[tuple[Any, str]] = []

    def get_value(*, ti_key: Any, key: str) -> str | None:
        asked.append((ti_key, key))
        return "https://ads.tiktok.com/i18n/dmp/audience/list?aadvid=1" if ti_key == "done" else None

    monkeypatch.setattr(XCom, "get_value", staticmethod(get_value))
    [link] = TikTokAudienceSyncOperator.operator_extra_links
    op = TikTokAudienceSyncOperator(task_id="t", members=[], id_type="email", audience_name="A")
    assert link.name == "TikTok Audiences"
    assert link.get_link(op, ti_key="done") == "https://ads.tiktok.com/i18n/dmp/audience/list?aadvid=1"
    assert link.get_link(op, ti_key="not yet") == ""
    assert asked == [("done", XCOM_LINK_KEY), ("not yet", XCOM_LINK_KEY)]
    assert [type(x) for x in TikTokAudienceSyncOperator.operator_extra_links] == [TikTokLink]


def spend_budget(emulator: EmulatorServer, state_root: Path, **kwargs: Any) -> list[str]:
    """Create the audience with a limit of 2 calls and spend the second one; returns the cohort."""
    cohort = emails(0, 1200)
    operator(emulator, state_root, members=cohort, daily_call_limit=2, **kwargs).execute(context())
    cohort = cohort + emails(5000, 10)
    operator(emulator, state_root, members=cohort, daily_call_limit=2, **kwargs).execute(context())
    return cohort + emails(6000, 10)


@pytest.mark.integration
def test_defers_until_the_utc_reset_then_syncs_the_current_cohort(emulator: EmulatorServer, state_root: Path) -> None:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    from airflow_provider_tiktok.compat import TaskDeferred

    cohort = spend_budget(emulator, state_root)
    op = operator(emulator, state_root, members=cohort, daily_call_limit=2)
    with pytest.raises(TaskDeferred) as info:
        op.execute(context())
    trigger = info.value.trigger
    assert isinstance(trigger, DateTimeTrigger)
    assert trigger.moment == MIDNIGHT_AND_A_MINUTE
    assert info.value.method_name == "execute_complete"
    # serialize round trip: plain values that rebuild the same trigger
    path, kwargs = trigger.serialize()
    assert path == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert kwargs == {"moment": MIDNIGHT_AND_A_MINUTE, "end_from_trigger": False}
    assert DateTimeTrigger(**kwargs).serialize() == (path, kwargs)

    # the cohort changed while waiting; at 00:01 UTC the resumed task syncs it as it is then
    emulator.state.set_clock(MIDNIGHT_AND_A_MINUTE)
    op.members = cohort + emails(7000, 5)
    ctx = context()
    summary = op.execute_complete(ctx, event=trigger.moment)
    assert summary["deferred_until"] == str(MIDNIGHT_AND_A_MINUTE)
    assert (summary["actions"], summary["added"]) == (["APPEND"], 15)
    assert (summary["audience_calls_used_today"], summary["audience_calls_left_today"]) == (1, 1)
    assert emulator.state.audience_members(summary["audience_id"]) == hashed(cohort + emails(7000, 5))
    assert ctx["ti"].xcom[XCOM_LINK_KEY].endswith(ADVERTISER_A)


@pytest.mark.unit
def test_trigger_is_stepped_through_without_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deferral's trigger waits on the clock in steps and yields one event carrying its moment."""
    from airflow.providers.standard.triggers import temporal
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger

    now = [MIDNIGHT_AND_A_MINUTE - timedelta(hours=8, minutes=31)]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)

    monkeypatch.setattr(temporal.timezone, "utcnow", lambda: now[0])
    # Replace the trigger module's own ``asyncio`` name only: patching ``asyncio.sleep`` itself would also catch
    # the sleeps of other event loops alive in the process (the session emulator's uvicorn thread ticks every 0.1 s).
    monkeypatch.setattr(temporal, "asyncio", SimpleNamespace(sleep=fake_sleep))

    async def first_event() -> Any:
        return await anext(DateTimeTrigger(moment=MIDNIGHT_AND_A_MINUTE).run())

    event = asyncio.run(first_event())
    assert event.payload == MIDNIGHT_AND_A_MINUTE
    assert now[0] >= MIDNIGHT_AND_A_MINUTE
    assert sum(slept) == (MIDNIGHT_AND_A_MINUTE - datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)).total_seconds()
    assert slept[0] == 3600
    assert slept[-1] == 1


@pytest.mark.integration
@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_skip_or_fail_at_the_limit(emulator: EmulatorServer, state_root: Path, policy: str) -> None:
    from airflow_provider_tiktok.compat import AirflowFailException, AirflowSkipException

    cohort = spend_budget(emulator, state_root, on_quota_exhausted=policy)
    op = operator(emulator, state_root, members=cohort, daily_call_limit=2, on_quota_exhausted=policy)
    expected = AirflowSkipException if policy == "skip" else AirflowFailException
    with pytest.raises(expected) as info:
        op.execute(context())
    message = str(info.value)
    assert message.startswith("Audience 7200000000000000001: 2 of 2 audience calls used today (UTC), this sync needs 1")
    assert "resets at 2026-03-11T00:00:00+00:00" in message
    assert ("on_quota_exhausted='defer'" in message) is (policy == "fail")
