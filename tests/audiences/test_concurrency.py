"""Several processes and a crash against one audience: the ledger's count holds and TikTok ends up right."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
from airflow_provider_tiktok.audiences.ledger import DailyCallLimitReached
from airflow_provider_tiktok.audiences.sync import AwaitLanding, sync_audience
from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from tests.helpers.audiences import audience_calls, emails, hashed

pytestmark = pytest.mark.integration

FORK = multiprocessing.get_context("fork")  # children inherit the imported modules: no 5 s Airflow import each


def spec(state_root: Path, run: str, limit: int) -> AudienceSyncSpec:
    return AudienceSyncSpec(
        advertiser_id=ADVERTISER_A,
        id_type="email",
        audience_name="Shared cohort",
        state_uri=str(state_root),
        daily_call_limit=limit,
        replace_processing=timedelta(0),
        run=run,
    )


def records(values: list[str]) -> list[tuple[int, dict[str, Any]]]:
    return [(n, {"email": v}) for n, v in enumerate(values, start=1)]


def new_hook() -> TikTokAdsHook:
    hook = TikTokAdsHook()
    hook.sleep = lambda seconds: None
    return hook


def cohort_of(index: int) -> list[str]:
    return emails(0, 2000) + emails(10_000 * index, 50)


def _sync_in_child(index: int, state_root: str, barrier: Any, results: Any, now: Any) -> None:
    """One Airflow worker: its own hook, its own cohort, started at the same moment as the others."""
    barrier.wait(30)
    try:
        summary = sync_audience(
            new_hook(), spec(Path(state_root), f"proc-{index}", 4), records(cohort_of(index)), clock=lambda: now
        )
        results.put((index, "ok", summary["actions"]))
    except DailyCallLimitReached as exc:
        results.put((index, "limit", exc.used))


def test_four_processes_sync_one_audience_at_once(emulator: EmulatorServer, state_root: Path) -> None:
    now = emulator.state.now()
    first = sync_audience(new_hook(), spec(state_root, "setup", 4), records(emails(0, 2000)), clock=lambda: now)
    audience_id = first["audience_id"]
    barrier, results = FORK.Barrier(4), FORK.Queue()
    children = [
        FORK.Process(target=_sync_in_child, args=(i, str(state_root), barrier, results, now)) for i in range(1, 5)
    ]
    for child in children:
        child.start()
    outcomes = sorted(results.get(timeout=60) for _ in children)
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    # one call was spent creating; three more fit in the limit of 4; the fourth sync found the budget spent
    assert sorted(status for _, status, _ in outcomes) == ["limit", "ok", "ok", "ok"]
    assert sum(len(detail) for _, status, detail in outcomes if status == "ok") == 3
    assert [detail for _, status, detail in outcomes if status == "limit"] == [4]
    assert audience_calls(emulator) == {audience_id: {now.date().isoformat(): 4}}
    ledger = json.loads(next(state_root.glob("audiences/*/*/ledger.json")).read_text())
    calls = ledger["calls"][now.date().isoformat()]
    assert [c["status"] for c in calls] == ["accepted"] * 4
    # the syncs ran one at a time: TikTok holds the cohort of the last one to finish, as does the snapshot
    last = int(calls[-1]["run"].removeprefix("proc-"))
    assert emulator.state.audience_members(audience_id) == hashed(cohort_of(last))
    snapshot = state_root.glob(f"audiences/*/*/snapshots/{ledger['snapshot']['file']}")
    assert next(snapshot).read_text() == "".join(h + "\n" for h in hashed(cohort_of(last)))


def _crash_before_the_call(state_root: str, now: Any) -> None:
    """A worker killed right after reserving its call: the HTTP request is never sent."""
    hook = new_hook()
    send = hook.request

    def request(method: str, path: str, **kwargs: Any) -> dict:
        if path.endswith("custom_audience/update/"):
            os._exit(7)
        return send(method, path, **kwargs)

    hook.request = request  # type: ignore[method-assign]
    sync_audience(hook, spec(Path(state_root), "doomed", 3), records(cohort_of(1)), clock=lambda: now)


def test_crash_between_reserve_and_call_wastes_a_call_never_exceeds(emulator: EmulatorServer, state_root: Path) -> None:
    now = emulator.state.now()
    day = now.date().isoformat()
    audience_id = sync_audience(new_hook(), spec(state_root, "setup", 3), records(emails(0, 2000)), clock=lambda: now)[
        "audience_id"
    ]
    child = FORK.Process(target=_crash_before_the_call, args=(str(state_root), now))
    child.start()
    child.join(30)
    assert child.exitcode == 7
    assert audience_calls(emulator) == {audience_id: {day: 1}}  # TikTok never saw the doomed call
    ledger = json.loads(next(state_root.glob("audiences/*/*/ledger.json")).read_text())
    assert [(c["run"], c["status"]) for c in ledger["calls"][day]] == [("setup", "accepted"), ("doomed", "reserved")]
    # the lock died with the process; the next sync catches up, and the wasted call still counts. Its outcome is
    # unknown (reserved, never settled), so the catch-up waits until it can no longer land (the operator defers),
    # then sets the membership whole: one REPLACE, not an APPEND.
    with pytest.raises(AwaitLanding) as waiting:
        sync_audience(new_hook(), spec(state_root, "next", 3), records(cohort_of(1)), clock=lambda: now)
    later = waiting.value.until
    assert later > now
    summary = sync_audience(new_hook(), spec(state_root, "next", 3), records(cohort_of(1)), clock=lambda: later)
    assert (summary["actions"], summary["audience_calls_left_today"]) == (["REPLACE"], 0)
    assert emulator.state.audience_members(audience_id) == hashed(cohort_of(1))
    with pytest.raises(DailyCallLimitReached) as info:
        sync_audience(new_hook(), spec(state_root, "over", 3), records(cohort_of(2)), clock=lambda: now)
    assert (info.value.used, info.value.limit) == (3, 3)
    assert audience_calls(emulator) == {audience_id: {day: 2}}
