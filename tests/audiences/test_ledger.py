"""The audience ledger: reserve-before-call, UTC days, durable snapshot pointer, the lock, object stores."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_tiktok.audiences.ledger import (
    ACCEPTED,
    FAILED,
    RESERVED,
    AudienceLedger,
    DailyCallLimitReached,
    audience_key,
)
from airflow_provider_tiktok.audiences.plan import utc_day_end, utc_days_between
from airflow_provider_tiktok.exceptions import TikTokConfigError

ADVERTISER = "7000000000000000001"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def ledger(root: Path | str, key: str = "id-1", **kwargs) -> AudienceLedger:
    return AudienceLedger(root, ADVERTISER, key, **kwargs)


def stored(root: Path, key: str = "id-1") -> dict:
    return json.loads((root / "audiences" / ADVERTISER / key / "ledger.json").read_text())


@pytest.mark.unit
def test_keys() -> None:
    assert audience_key("7200000000000000001", None) == "id-7200000000000000001"
    assert audience_key("7200000000000000001", "ignored") == "id-7200000000000000001"
    name_key = audience_key(None, "Buyers / last 30 days")
    assert name_key.startswith("name-")
    assert len(name_key) == 37
    assert "/" not in name_key
    assert audience_key(None, "Buyers / last 30 days") == name_key
    with pytest.raises(TikTokConfigError, match="digits"):
        audience_key("../etc", None)
    with pytest.raises(TikTokConfigError, match="audience_name"):
        audience_key(None, None)


@pytest.mark.unit
def test_limits_are_validated(tmp_path: Path) -> None:
    with pytest.raises(TikTokConfigError, match="between 1 and 24"):
        ledger(tmp_path, daily_call_limit=25)
    with pytest.raises(TikTokConfigError, match="digits"):
        AudienceLedger(tmp_path, "../x", "id-1")


@pytest.mark.unit
def test_reservations_are_durable_and_counted_per_utc_day(tmp_path: Path) -> None:
    with ledger(tmp_path, daily_call_limit=3).locked() as book:
        assert book.calls_left(NOON) == 3
        first = book.reserve("CREATE", NOON, run="run-a")
        # on disk before the call is made: a crash now still counts it
        assert [c["status"] for c in stored(tmp_path)["calls"]["2026-03-10"]] == [RESERVED]
        book.settle(first, ACCEPTED, request_id="req-1")
        book.reserve("APPEND", NOON + timedelta(hours=11, minutes=50))  # 23:50: before the midnight guard window
        assert book.calls_used(NOON) == 2
    # a fresh process (new object) sees the same day
    with ledger(tmp_path, daily_call_limit=3).locked() as book:
        calls = book.calls_on(NOON)
        assert [(c["action"], c["status"], c["run"]) for c in calls] == [
            ("CREATE", ACCEPTED, "run-a"),
            ("APPEND", RESERVED, None),
        ]
        assert calls[0]["request_id"] == "req-1"
        third = book.reserve("REMOVE", NOON)
        book.settle(third, FAILED, code=40002)
        assert book.calls_left(NOON) == 0
        with pytest.raises(DailyCallLimitReached) as info:
            book.reserve("REPLACE", NOON)
        assert (info.value.used, info.value.limit, info.value.needed) == (3, 3, 1)
        assert info.value.resets_at == datetime(2026, 3, 11, tzinfo=timezone.utc)
        assert str(info.value).startswith("Audience id-1: 3 of 3 audience calls used today (UTC), this sync needs 1")
        # a failed call still counts: TikTok counts it too
        assert book.calls_used(NOON) == 3
        # the next UTC day starts from zero
        tomorrow = datetime(2026, 3, 11, 0, 1, 0, tzinfo=timezone.utc)  # 00:01: past the clock-skew allowance
        assert book.calls_left(tomorrow) == 3
        book.reserve("REPLACE", tomorrow)
        assert book.calls_used(tomorrow) == 1
        with pytest.raises(DailyCallLimitReached):
            book.check_budget(3, tomorrow)
        book.check_budget(2, tomorrow)
    assert stat.S_IMODE((tmp_path / "audiences" / ADVERTISER / "id-1" / "ledger.json").stat().st_mode) == 0o600


@pytest.mark.unit
def test_old_days_are_pruned(tmp_path: Path) -> None:
    with ledger(tmp_path).locked() as book:
        for day in range(10):
            book.reserve("APPEND", NOON + timedelta(days=day))
    assert sorted(stored(tmp_path)["calls"]) == [f"2026-03-{d}" for d in range(13, 20)]


@pytest.mark.unit
def test_settle_unknown_reservation(tmp_path: Path) -> None:
    with ledger(tmp_path).locked() as book, pytest.raises(KeyError):
        book.settle("nope", ACCEPTED)


@pytest.mark.unit
def test_use_outside_the_lock_is_refused(tmp_path: Path) -> None:
    book = ledger(tmp_path)
    with pytest.raises(RuntimeError, match="outside"):
        book.calls_used(NOON)
    with book.locked():
        pass
    with pytest.raises(RuntimeError, match="outside"):
        book.reserve("APPEND", NOON)


@pytest.mark.unit
def test_snapshot_pointer_swaps_and_prunes(tmp_path: Path) -> None:
    with ledger(tmp_path).locked() as book:
        assert book.snapshot is None
        first = book.new_snapshot_name(NOON)
        assert first.startswith("20260310T120000Z-")
        assert first.endswith(".txt")
        folder = tmp_path / "audiences" / ADVERTISER / "id-1" / "snapshots"
        folder.mkdir()
        (folder / first).write_text("a\n")
        book.accept_snapshot(first, 1, NOON)
        leftover = book.new_snapshot_name(NOON)
        (folder / leftover).write_text("b\n")  # written, then the sync failed
        assert book.snapshot.file == first
        book.prune_snapshots()
        assert sorted(p.name for p in folder.iterdir()) == [first]
        second = book.new_snapshot_name(NOON + timedelta(hours=1))
        (folder / second).write_text("a\nb\n")
        book.accept_snapshot(second, 2, NOON + timedelta(hours=1), replaced=True)
        assert sorted(p.name for p in folder.iterdir()) == [second]
        assert book.last_replace_at == NOON + timedelta(hours=1)
        assert not book.replace_allowed(NOON + timedelta(hours=1, minutes=29), timedelta(minutes=30))
        assert book.replace_allowed(NOON + timedelta(hours=1, minutes=30), timedelta(minutes=30))
        book.record_audience("7200000000000000001", audience_name="Buyers", calculate_type="EMAIL_SHA256")
    with ledger(tmp_path).locked() as book:
        assert book.snapshot.count == 2
        assert book.snapshot_path(book.snapshot).read_text() == "a\nb\n"
        assert book.audience_id == "7200000000000000001"
    data = stored(tmp_path)
    assert data["audience_name"] == "Buyers"
    assert data["calculate_type"] == "EMAIL_SHA256"


@pytest.mark.unit
def test_tampered_snapshot_name_is_refused(tmp_path: Path) -> None:
    with ledger(tmp_path).locked() as book:
        book.accept_snapshot("../../x.txt", 1, NOON)
        with pytest.raises(TikTokConfigError, match="malformed"):
            book.snapshot_path(book.snapshot)


@pytest.mark.unit
def test_unknown_version_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "audiences" / ADVERTISER / "id-1"
    folder.mkdir(parents=True)
    (folder / "ledger.json").write_text('{"version": 99, "calls": {}}')
    with pytest.raises(TikTokConfigError, match="version"), ledger(tmp_path).locked():
        pass


@pytest.mark.unit
def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with ledger(tmp_path).locked():
            order.append("first in")
            inside.set()
            time.sleep(0.2)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with ledger(tmp_path).locked():
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]


@pytest.mark.unit
def test_lock_timeout(tmp_path: Path) -> None:
    with (
        ledger(tmp_path).locked(),
        pytest.raises(TimeoutError, match="held its lock"),
        ledger(tmp_path, lock_timeout=0.1).locked(),
    ):
        pass


def _reserve_then_die(root: str) -> None:
    with ledger(Path(root)).locked() as book:
        book.reserve("APPEND", NOON)
        os._exit(3)  # the process dies holding the lock, before any HTTP call


@pytest.mark.integration
def test_crash_after_reserve_keeps_the_count_and_frees_the_lock(tmp_path: Path) -> None:
    child = multiprocessing.get_context("fork").Process(target=_reserve_then_die, args=(str(tmp_path),))
    child.start()
    child.join(10)
    assert child.exitcode == 3
    with ledger(tmp_path, lock_timeout=5).locked() as book:
        assert [(c["action"], c["status"]) for c in book.calls_on(NOON)] == [("APPEND", RESERVED)]
        assert book.calls_left(NOON) == 23


@pytest.mark.unit
def test_object_store_root(memory_store: str) -> None:
    from airflow.sdk import ObjectStoragePath

    book = ledger(memory_store)
    assert not book.is_local
    with book.locked():
        book.reserve("CREATE", NOON)
        name = book.new_snapshot_name(NOON)
        snapshots = book.folder / "snapshots"
        (snapshots / name).write_text("a\n")
        (snapshots / "stale.txt").write_text("b\n")
        book.accept_snapshot(name, 1, NOON)
        assert [p.name for p in snapshots.iterdir()] == [name]
    with ledger(memory_store).locked() as again:
        assert again.calls_used(NOON) == 1
        assert again.snapshot_path(again.snapshot).read_text() == "a\n"
    raw = ObjectStoragePath(f"{memory_store}/audiences/{ADVERTISER}/id-1/ledger.json").read_text()
    assert json.loads(raw)["snapshot"]["count"] == 1


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=timezone.utc)


@pytest.mark.unit
def test_utc_day_helpers() -> None:
    assert utc_days_between(at(10, 23, 59), at(11, 0, 1)) == ["2026-03-10", "2026-03-11"]
    assert utc_days_between(at(10, 1, 0), at(10, 2, 0)) == ["2026-03-10"]
    assert utc_days_between(at(11, 0, 0), at(10, 23, 0)) == []
    assert utc_day_end("2026-03-10") == at(11, 0, 0)
    assert utc_day_end("2026-12-31") == datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("moment", "days"),
    [
        (at(10, 12, 0), ["2026-03-10"]),
        # 30 s of clock skew + 120 s in flight (+ 30 s skew): a call reserved at 23:57:30 may land at 00:00:00
        (at(10, 23, 57, 29), ["2026-03-10"]),
        (at(10, 23, 57, 30), ["2026-03-10", "2026-03-11"]),
        (at(10, 23, 59, 59), ["2026-03-10", "2026-03-11"]),
        # a worker clock 30 s ahead of TikTok's reads 00:00:29 while TikTok's still reads 23:59:59
        (at(11, 0, 0, 29), ["2026-03-10", "2026-03-11"]),
        (at(11, 0, 0, 30), ["2026-03-11"]),
    ],
)
def test_guard_window_around_midnight(tmp_path: Path, moment: datetime, days: list[str]) -> None:
    with ledger(tmp_path).locked() as book:
        assert book.days_counted(moment) == days
        book.reserve("APPEND", moment)
        for day in days:
            assert book.calls_used(datetime.fromisoformat(f"{day}T12:00:00+00:00")) == 1
    entry = next(entry for entries in stored(tmp_path)["calls"].values() for entry in entries)
    assert entry.get("also", []) == [day for day in days if day != moment.date().isoformat()]


@pytest.mark.unit
def test_a_call_near_midnight_is_counted_on_the_next_day_too(tmp_path: Path) -> None:
    with ledger(tmp_path, daily_call_limit=3).locked() as book:
        book.reserve("APPEND", at(10, 12, 0))
        book.reserve("REMOVE", at(10, 23, 59, 50))  # may reach TikTok after 00:00 UTC
        assert book.calls_used(at(10, 12, 0)) == 2
        assert book.calls_left(at(10, 23, 59, 55)) == 1
        assert [c["action"] for c in book.calls_on(at(11, 9, 0))] == ["REMOVE"]
        assert book.calls_left(at(11, 9, 0)) == 2
        book.reserve("APPEND", at(11, 9, 0))
        book.reserve("APPEND", at(11, 9, 1))
        with pytest.raises(DailyCallLimitReached) as info:
            book.reserve("APPEND", at(11, 9, 2))
        assert (info.value.used, info.value.day) == (3, None)
        assert info.value.resets_at == at(12, 0, 0)


@pytest.mark.unit
def test_a_full_day_still_counts_for_the_clock_skew_after_midnight(tmp_path: Path) -> None:
    with ledger(tmp_path, daily_call_limit=2).locked() as book:
        book.reserve("APPEND", at(10, 12, 0))
        book.reserve("REMOVE", at(10, 13, 0))
        assert book.calls_used(at(11, 0, 0, 10)) == 0  # nothing on the new day itself...
        assert book.calls_left(at(11, 0, 0, 10)) == 0  # ...but TikTok's clock may still read the old day
        with pytest.raises(DailyCallLimitReached) as info:
            book.reserve("APPEND", at(11, 0, 0, 10))
        assert (info.value.used, info.value.limit, info.value.day) == (2, 2, "2026-03-10")
        assert info.value.resets_at == at(11, 0, 0, 30)
        assert str(info.value) == (
            "Audience id-1: 2 of 2 audience calls used on 2026-03-10 (UTC), which a call sent now may still count "
            "against, this sync needs 1; the budget resets at 2026-03-11T00:00:30+00:00"
        )
        assert book.calls_left(at(11, 0, 0, 30)) == 2
        book.reserve("APPEND", at(11, 0, 0, 30))


@pytest.mark.unit
def test_guard_is_configurable(tmp_path: Path) -> None:
    with ledger(tmp_path, clock_skew=timedelta(0), in_flight=timedelta(0)).locked() as book:
        assert book.days_counted(at(10, 23, 59, 59)) == ["2026-03-10"]
        assert book.days_counted(at(11, 0, 0, 0)) == ["2026-03-11"]
    with ledger(tmp_path, clock_skew=timedelta(seconds=5), in_flight=timedelta(seconds=300)).locked() as book:
        assert book.days_counted(at(10, 23, 54, 54)) == ["2026-03-10"]
        assert book.days_counted(at(10, 23, 54, 55)) == ["2026-03-10", "2026-03-11"]
        assert book.days_counted(at(11, 0, 0, 5)) == ["2026-03-11"]
    for bad in ({"clock_skew": timedelta(seconds=-1)}, {"in_flight": timedelta(hours=7)}):
        with pytest.raises(TikTokConfigError, match="between 0 and 21600 seconds"):
            ledger(tmp_path, **bad)


@pytest.mark.unit
def test_calls_written_before_the_guard_still_count(tmp_path: Path) -> None:
    """A ledger of an earlier version of the provider: no ``also``, some calls without ``seq``."""
    folder = tmp_path / "audiences" / ADVERTISER / "id-1"
    folder.mkdir(parents=True)
    calls = [
        {"id": "a", "action": "CREATE", "at": "2026-03-10T09:00:00+00:00", "run": None, "status": "accepted"},
        {"id": "b", "seq": 2, "action": "APPEND", "at": "2026-03-10T10:00:00+00:00", "run": None, "status": "failed"},
    ]
    (folder / "ledger.json").write_text(json.dumps({"version": 1, "calls": {"2026-03-10": calls}, "seq": 2}))
    with ledger(tmp_path).locked() as book:
        assert [c["id"] for c in book.calls_on(NOON)] == ["a", "b"]
        assert book.calls_left(NOON) == 22
