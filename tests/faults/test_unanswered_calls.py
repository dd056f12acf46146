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
