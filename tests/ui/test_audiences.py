"""Audience rows: calls counted today from the ledger, the next reset, the last sync, deferred syncs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.audiences.ledger import AudienceLedger, audience_key
from airflow_provider_tiktok.ui import audiences
from airflow_provider_tiktok.ui.records import AssetRecord, DeferredSync

pytestmark = pytest.mark.unit

ADVERTISER = "7000000000000000001"
NOW = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)
NAME = "Example cohort"


def ledger_with_calls(root, calls: int, *, at: datetime = NOW, audience_id: str = "555") -> None:
    """A real ledger (written by the provider's own class) with ``calls`` accepted calls at ``at``."""
    book = AudienceLedger(str(root), ADVERTISER, audience_key(None, NAME))
    with book.locked():
        book.record_audience(audience_id, audience_name=NAME)
        for _ in range(calls):
            book.settle(book.reserve("APPEND", at), "accepted")


def sync_event(*, at: datetime = NOW, **summary) -> AssetRecord:
    return AssetRecord(
        uri=f"tiktok-audience://{ADVERTISER}/Example%20cohort",
        timestamp=at,
        extra={"audience_id": "555", "added": 5, "removed": 2, "audience_size": 1600},
        summary={"audience_id": "555", "added": 5, "removed": 2, "audience_size": 1600, "usable": True, **summary},
        dag_id="tiktok_audience_sync",
        task_id="sync_cohort",
        run_id="scheduled__1",
    )


def test_calls_today_come_from_the_ledger_and_the_reset_is_next_utc_midnight(tmp_path):
    ledger_with_calls(tmp_path, 3)
    ledger_with_calls(tmp_path, 2, at=NOW - timedelta(days=1))  # yesterday's calls do not count today
    (view,) = audiences.scan_ledgers([str(tmp_path)], NOW)
    assert (view.advertiser_id, view.audience_id, view.name, view.calls_today) == (ADVERTISER, "555", NAME, 3)
    (row,) = audiences.audience_rows([view], [sync_event()], [], NOW)
    assert row.calls_used == 3
    assert row.calls_left == 21
    assert row.limit == 24
    assert row.resets_at == datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert row.last_sync is not None
    assert row.last("usable") is True
    assert audiences.sync_counts(row) == "+5 / -2"


def test_a_call_near_midnight_counts_on_the_next_day_too(tmp_path):
    ledger_with_calls(tmp_path, 1, at=datetime(2026, 11, 21, 23, 59, 30, tzinfo=timezone.utc))
    (view,) = audiences.scan_ledgers([str(tmp_path)], NOW)
    assert view.calls_today == 1


def test_the_newest_event_is_the_last_sync_and_an_event_without_ledger_still_shows():
    older = sync_event(at=NOW - timedelta(hours=2), added=99)
    (row,) = audiences.audience_rows([], [older, sync_event()], [], NOW)
    assert row.calls_used is None
    assert row.last("added") == 5
    assert row.name == NAME
    assert row.audience_id == "555"


def test_a_deferred_sync_attaches_to_the_audience_its_task_last_synced(tmp_path):
    ledger_with_calls(tmp_path, 24)
    waiting = DeferredSync(
        "tiktok_audience_sync", "sync_cohort", "manual__2", datetime(2026, 11, 23, 0, 1, tzinfo=timezone.utc)
    )
    (row,) = audiences.audience_rows(audiences.scan_ledgers([str(tmp_path)], NOW), [sync_event()], [waiting], NOW)
    assert row.deferred == waiting
    assert row.calls_left == 0


def test_a_deferred_first_sync_gets_its_own_row():
    waiting = DeferredSync("other_dag", "sync", "manual__1", None)
    (row,) = audiences.audience_rows([], [], [waiting], NOW)
    assert row.deferred == waiting
    assert row.audience_id is None
    assert row.calls_used is None


def test_a_damaged_ledger_is_shown_as_damaged_without_its_content(tmp_path):
    folder = tmp_path / "audiences" / ADVERTISER / "id-42"
    folder.mkdir(parents=True)
    (folder / "ledger.json").write_text('{"version": 1, "calls": ')
    (view,) = audiences.scan_ledgers([str(tmp_path)], NOW)
    assert view.problem is not None
    assert "damaged ledger" in view.problem
    (row,) = audiences.audience_rows([view], [], [], NOW)
    assert row.calls_used is None
    assert row.problem == view.problem


def test_snapshot_files_are_never_opened(tmp_path, monkeypatch):
    ledger_with_calls(tmp_path, 1)
    folder = next((tmp_path / "audiences" / ADVERTISER).iterdir())
    (folder / "snapshots").mkdir(exist_ok=True)
    (folder / "snapshots" / "x.txt").write_text("a" * 64 + "\n")
    opened = []
    real_read = type(folder).read_bytes
    monkeypatch.setattr(type(folder), "read_bytes", lambda self: opened.append(self.name) or real_read(self))
    audiences.scan_ledgers([str(tmp_path)], NOW)
    assert opened == ["ledger.json"]


def test_a_missing_root_shows_no_audience(tmp_path):
    assert audiences.scan_ledgers([str(tmp_path / "absent")], NOW) == []


def test_calls_claimed_without_a_ledger_entry_count_as_the_budget_counts_them(tmp_path):
    from airflow_provider_tiktok.audiences.claims import claim

    ledger_with_calls(tmp_path, 2)  # two calls, each claimed its slot and is in the ledger
    (folder,) = (tmp_path / "audiences" / ADVERTISER).iterdir()
    for n in range(3):  # a racing worker claimed three more today; its ledger entries were lost
        claim(folder, "2026-11-22", 24, f"r{n}", NOW.isoformat())
    claim(folder, "2026-11-21", 24, "yesterday", NOW.isoformat())
    (view,) = audiences.scan_ledgers([str(tmp_path)], NOW)
    assert view.calls_today == 5
