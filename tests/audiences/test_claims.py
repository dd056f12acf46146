"""The daily audience budget across workers: exclusively created claim files, whoever writes the ledger."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_tiktok.audiences import claims
from airflow_provider_tiktok.audiences.ledger import AudienceLedger, DailyCallLimitReached
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.utils.storage import ensure_dir

ADVERTISER = "7000000000000000001"
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
DAY = "2026-03-10"
FORK = multiprocessing.get_context("fork")


@pytest.mark.unit
def test_slots_are_taken_once_each_up_to_the_limit(tmp_path):
    taken = [claims.claim(tmp_path, DAY, 3, f"r{n}", NOON.isoformat()) for n in range(4)]
    assert taken == [1, 2, 3, None]
    assert claims.claimed(tmp_path, DAY) == 3
    slot = tmp_path / "claims" / DAY / "02"
    assert json.loads(slot.read_text()) == {"reservation": "r1", "at": NOON.isoformat()}
    assert stat.S_IMODE(slot.stat().st_mode) == 0o600
    claims.release(tmp_path, DAY, 2)
    assert claims.claim(tmp_path, DAY, 3, "r9", NOON.isoformat()) == 2  # a released slot is free again
    claims.prune(tmp_path, keep=["2026-03-11"])
    assert claims.claimed(tmp_path, DAY) == 0
    assert not (tmp_path / "claims" / DAY).exists()


@pytest.mark.unit
def test_a_call_near_midnight_claims_both_days_or_neither(tmp_path):
    assert claims.claim_days(tmp_path, [DAY, "2026-03-11"], 2, "r1", NOON.isoformat()) == {DAY: 1, "2026-03-11": 1}
    claims.claim(tmp_path, "2026-03-11", 2, "r2", NOON.isoformat())  # the next day is now full
    with pytest.raises(claims.DayFull) as full:
        claims.claim_days(tmp_path, [DAY, "2026-03-11"], 2, "r3", NOON.isoformat())
    assert full.value.day == "2026-03-11"
    assert claims.claimed(tmp_path, DAY) == 1  # the slot it took on the first day was given back


@pytest.mark.unit
def test_an_object_store_takes_slots_by_exclusive_create(memory_store):
    from airflow_provider_tiktok.compat import ObjectStoragePath

    folder = ObjectStoragePath(f"{memory_store}/claims-test")
    assert [claims.claim(folder, DAY, 2, f"r{n}", NOON.isoformat()) for n in range(3)] == [1, 2, None]
    assert claims.claimed(folder, DAY) == 2
    claims.prune(folder, keep=[])
    assert claims.claimed(folder, DAY) == 0


class NoExclusiveCreate:
    """An object-store path whose file system ignores or refuses mode "x"."""

    protocol = "plainstore"
    name = "01"

    def __truediv__(self, other: str) -> NoExclusiveCreate:
        return self

    def mkdir(self, **kwargs: object) -> None:
        pass

    def iterdir(self) -> list:
        return []

    def open(self, mode: str):
        raise ValueError(f"unsupported mode {mode}")


@pytest.mark.unit
def test_a_store_that_cannot_create_exclusively_is_refused_naming_it():
    with pytest.raises(TikTokConfigError, match="'plainstore' cannot create files exclusively"):
        claims.claim(NoExclusiveCreate(), DAY, 24, "r1", NOON.isoformat())


@contextlib.contextmanager
def no_lock(self):
    """What an object-store root gives a sync: no lock (and here no pool either)."""
    ensure_dir(self.folder)
    yield


def _reserve_until_refused(root: Path, start, out) -> None:
    AudienceLedger.exclusive = no_lock  # this child only (forked)
    ledger = AudienceLedger(root, ADVERTISER, "id-42")
    start.wait(10)
    sent = 0
    while True:
        try:
            with ledger.locked():
                ledger.reserve("APPEND", NOON, run="race")
        except DailyCallLimitReached:
            break
        sent += 1
    out.put(sent)


@pytest.mark.integration
def test_racing_syncs_without_any_lock_still_make_at_most_24_calls_a_day(tmp_path):
    """Four workers reserve one audience's calls at the same time with no lock and no pool: the ledger file loses
    updates (last writer wins), the claims do not, so the day's calls stop at exactly 24."""
    start, out = FORK.Event(), FORK.Queue()
    procs = [FORK.Process(target=_reserve_until_refused, args=(tmp_path, start, out)) for _ in range(4)]
    for proc in procs:
        proc.start()
    start.set()
    sent = [out.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(10)
    assert sum(sent) == 24
    assert claims.claimed(tmp_path / "audiences" / ADVERTISER / "id-42", DAY) == 24
    ledger = AudienceLedger(tmp_path, ADVERTISER, "id-42")
    with ledger.locked():
        assert ledger.calls_left(NOON) == 0  # whatever the ledger file kept, the claims count
        with pytest.raises(DailyCallLimitReached):
            ledger.reserve("APPEND", NOON)


@pytest.mark.unit
def test_claims_outside_the_ledger_count_and_are_reported(tmp_path, caplog):
    """A sync that crashed between its claim and its ledger write (or ran at the same time elsewhere)."""
    ledger = AudienceLedger(tmp_path, ADVERTISER, "id-7")
    claims.claim(ledger.folder, DAY, 24, "crashed", NOON.isoformat())
    with ledger.locked():
        assert ledger.calls_left(NOON) == 23
        with caplog.at_level("WARNING"):
            ledger.reserve("APPEND", NOON)
    assert "1 call(s) of 2026-03-10 were claimed outside this ledger" in caplog.text
    with ledger.locked():
        assert ledger.calls_used(NOON) == 1  # the ledger's own record
        assert ledger.calls_left(NOON) == 22  # the budget counts both claims
