"""The ledger's record of calls whose outcome is unknown (no answer, or a process that died mid-call), which
makes the next audience sync wait for them and set the membership whole (pure: no Airflow, no emulator)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_provider_tiktok.audiences.ledger import ACCEPTED, FAILED, AudienceLedger

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)


def test_unanswered_calls_since_the_accepted_snapshot(tmp_path: Path) -> None:
    book = AudienceLedger(tmp_path, "7000000000000000001", "id-1")
    with book.locked():
        created = book.reserve("CREATE", NOW)
        book.settle(created, FAILED, code=None, answered=False)  # timed out
        rate_limited = book.reserve("CREATE", NOW)
        book.settle(rate_limited, FAILED, code=40100)  # answered: TikTok did nothing
        in_flight = book.reserve("REPLACE", NOW)  # the process died here
        assert [(c["id"], c["seq"]) for c in book.unanswered()] == [(created, 1), (in_flight, 3)]
        (tmp_path / "audiences" / "7000000000000000001" / "id-1" / "snapshots").mkdir(parents=True)
        (tmp_path / "audiences" / "7000000000000000001" / "id-1" / "snapshots" / "s.txt").write_text("")
        book.accept_snapshot("s.txt", 0, NOW)  # a later sync set the membership whole
        assert book.unanswered() == []
        answered = book.reserve("APPEND", NOW)
        book.settle(answered, ACCEPTED)
        assert book.unanswered() == []
    with book.locked():  # read back from the file
        assert book.calls_used(NOW) == 4
        assert book.unanswered() == []


def test_an_unanswered_call_near_midnight_counts_on_both_days(tmp_path: Path) -> None:
    """A call that got no answer at 23:59:30 may still land after 00:00 UTC: both days count it, and it stays
    unanswered (the next sync waits for it, then sets the membership whole) whichever day that sync runs on."""
    late = datetime(2026, 3, 10, 23, 59, 30, tzinfo=timezone.utc)
    next_day = datetime(2026, 3, 11, 0, 5, tzinfo=timezone.utc)
    book = AudienceLedger(tmp_path, "7000000000000000001", "id-1")
    with book.locked():
        lost = book.reserve("REPLACE", late)
        book.settle(lost, FAILED, code=None, answered=False)
    with book.locked():
        assert book.calls_used(late) == book.calls_used(next_day) == 1
        assert book.calls_left(next_day) == 23
        assert [c["id"] for c in book.unanswered()] == [lost]
