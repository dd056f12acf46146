"""Batching, bad-row isolation and partial success with a fake ``send``; progress and rejects files."""

from __future__ import annotations

import json
import stat

import pytest

from airflow_provider_tiktok.events.batching import Batch, batched, deliver, describe, row_index
from airflow_provider_tiktok.events.progress import (
    RejectsLog,
    UploadProgress,
    progress_location,
    rejects_location,
    run_key,
)
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.envelope import TrackResult

pytestmark = pytest.mark.unit


def events(n: int) -> list[tuple[int, dict]]:
    return [(row, {"event_id": f"e{row}"}) for row in range(1, n + 1)]


class FakeTikTok:
    """Refuses any request holding a bad event (40002), naming its index unless ``with_index`` is off."""

    def __init__(self, bad: set[str], *, with_index: bool = True, partial: bool = False) -> None:
        self.bad = bad
        self.with_index = with_index
        self.partial = partial
        self.requests: list[list[str]] = []
        self.accepted: list[str] = []

    def __call__(self, batch: list[dict]) -> TrackResult:
        ids = [event["event_id"] for event in batch]
        self.requests.append(ids)
        failed = [n for n, event_id in enumerate(ids) if event_id in self.bad]
        if failed and self.partial and len(failed) < len(ids):
            self.accepted += [event_id for event_id in ids if event_id not in self.bad]
            details = [{"index": n, "event_id": ids[n], "code": 40002, "message": "bad currency"} for n in failed]
            return TrackResult({"failed_events": details}, partial=True, request_id="r")
        if failed:
            where = f"data.{failed[0]}.properties.currency" if self.with_index else "properties.currency"
            raise TikTokApiError(40002, f"Invalid value for {where}: 'XYZ' is not an ISO 4217 currency code", "r")
        self.accepted += ids
        return TrackResult({})


def test_batches_are_lazy_exact_and_keep_row_numbers():
    batches = list(batched(iter(events(2500)), 1000))
    assert [len(b.events) for b in batches] == [1000, 1000, 500]
    assert [b.index for b in batches] == [0, 1, 2]
    assert batches[2].rows[0] == 2001
    assert batches[2].rows[-1] == 2500
    with pytest.raises(ValueError, match="1 to 1000"):
        next(batched(iter(events(1)), 1001))


def test_fingerprints_follow_the_event_ids_and_the_scope():
    one = Batch(0, [1, 2], [{"event_id": "a"}, {"event_id": "b"}])
    assert one.fingerprint("web|px") == Batch(5, [7, 8], [{"event_id": "a"}, {"event_id": "b"}]).fingerprint("web|px")
    assert one.fingerprint("web|px") != one.fingerprint("web|px|TEST1")
    assert one.fingerprint("web|px") != Batch(0, [1, 2], [{"event_id": "b"}, {"event_id": "a"}]).fingerprint("web|px")


@pytest.mark.parametrize("with_index", [True, False])
def test_three_bad_rows_among_1000_are_isolated_and_997_sent_once(with_index):
    bad = {"e10", "e500", "e999"}
    tiktok = FakeTikTok(bad, with_index=with_index)
    [batch] = batched(iter(events(1000)), 1000)
    outcome = deliver(batch, tiktok)
    assert outcome.sent == 997
    assert sorted(tiktok.accepted, key=lambda e: int(e[1:])) == [f"e{n}" for n in range(1, 1001) if f"e{n}" not in bad]
    assert len(set(tiktok.accepted)) == 997  # nothing accepted twice
    assert [(r.row, r.code, r.field, r.reason) for r in sorted(outcome.rejections, key=lambda r: r.row)] == [
        (row, 40002, "properties.currency", "'XYZ' is not an ISO 4217 currency code") for row in (10, 500, 999)
    ]
    assert outcome.calls == len(tiktok.requests)
    if with_index:
        assert outcome.calls == 4  # each named row is taken out, the rest resent
    else:
        assert outcome.calls == 55 <= 1 + 3 * 2 * 10  # bisection: at most bad * 2 * log2(1000) extra calls
    assert outcome.isolation_calls == outcome.calls - 1


def test_partial_success_rejects_only_the_failed_rows_and_resends_nothing():
    tiktok = FakeTikTok({"e2", "e4"}, partial=True)
    [batch] = batched(iter(events(5)), 5)
    outcome = deliver(batch, tiktok)
    assert (outcome.sent, outcome.calls, [r.row for r in outcome.rejections]) == (3, 1, [2, 4])
    assert tiktok.accepted == ["e1", "e3", "e5"]


@pytest.mark.parametrize(
    "answer",
    [{}, {"failed_events": "3 failed"}, {"errors": [{"index": 1}]}, {"failed_events": [{"code": 40002}]}],
    ids=["no-details", "text", "other-key", "unnamed-entry"],
)
def test_partial_success_in_an_unknown_shape_counts_nothing_as_sent(answer):
    def tiktok(batch: list[dict]) -> TrackResult:
        return TrackResult(answer, partial=True, request_id="p9")

    [batch] = batched(iter(events(3)), 3)
    outcome = deliver(batch, tiktok)
    assert (outcome.sent, outcome.calls, outcome.partial_without_details) == (0, 1, 1)
    assert [(r.row, r.code) for r in outcome.rejections] == [(1, 20001), (2, 20001), (3, 20001)]
    reason = outcome.rejections[0].reason
    assert reason.startswith("outcome unknown: TikTok answered partial success (20001, request_id=p9)")
    assert json.dumps(answer, sort_keys=True) in reason  # what TikTok said is kept for the user


def test_a_40000_row_error_is_isolated_like_a_40002():
    sent: list[list[str]] = []

    def tiktok(batch: list[dict]) -> TrackResult:
        ids = [event["event_id"] for event in batch]
        sent.append(ids)
        if "e3" in ids:
            raise TikTokApiError(40000, f"Invalid Price Field: data.{ids.index('e3')}.properties.contents.0.price")
        return TrackResult({})

    [batch] = batched(iter(events(5)), 5)
    outcome = deliver(batch, tiktok)
    assert (outcome.sent, outcome.calls) == (4, 2)
    [rejection] = outcome.rejections
    assert (rejection.row, rejection.code, rejection.field) == (3, 40000, "properties.contents.0.price")
    assert rejection.reason == "Invalid Price Field"
    assert sent[1] == ["e1", "e2", "e4", "e5"]


def test_errors_about_the_request_itself_are_raised_not_bisected():
    def refuse(batch):
        raise TikTokApiError(40002, "event_source_id: The pixel does not exist.", "r")

    with pytest.raises(TikTokApiError, match="pixel"):
        deliver(Batch(0, [1, 2], [{"event_id": "a"}, {"event_id": "b"}]), refuse)

    def no_permission(batch):
        raise TikTokApiError(40001, "No permission", "r")

    with pytest.raises(TikTokApiError):
        deliver(Batch(0, [1], [{"event_id": "a"}]), no_permission)


def test_message_parsing():
    assert row_index("Invalid value for data.12.page.url: x", 13) == 12
    assert row_index("Invalid value for data.12.page.url: x", 12) is None
    assert describe("Invalid value for data.3.user.email: must be SHA-256 hashed") == (
        "user.email",
        "must be SHA-256 hashed",
    )
    assert describe("Something else went wrong") == (None, "Something else went wrong")


def test_progress_is_saved_owner_only_and_ignored_for_another_scope(tmp_path):
    key = run_key("my dag", "upload", "manual__2026-03-10T15:30:00+00:00")
    assert key == "my%20dag/upload/manual__2026-03-10T15%3A30%3A00%2B00%3A00"
    location = progress_location(key, str(tmp_path))
    progress = UploadProgress(location, "web|px|")
    progress.record(0, "f0", 1000, {})
    progress.record(2, "f2", 997, {"currency: bad": 3})
    again = UploadProgress(location, "web|px|")
    assert again.accepted(0, "f0") == {"fingerprint": "f0", "sent": 1000, "rejected": {}}
    assert again.accepted(2, "f2")["rejected"] == {"currency: bad": 3}
    assert again.accepted(0, "other") is None
    assert again.accepted(1, "f1") is None
    assert UploadProgress(location, "web|px|TEST").accepted(0, "f0") is None
    assert stat.S_IMODE((tmp_path / f"{key}.json").stat().st_mode) == 0o600


def test_rejects_carry_earlier_batches_and_drop_recomputed_ones(tmp_path):
    location = rejects_location("d/t/r", str(tmp_path / "rejects.jsonl"))
    first = RejectsLog(location, "r")
    first.add({"row": 3, "batch": None, "reason": "validation"})
    first.add({"row": 1500, "batch": 1, "reason": "tiktok"})
    first.add({"row": 2100, "batch": 2, "reason": "tiktok"})
    assert first.publish() == location
    assert stat.S_IMODE((tmp_path / "rejects.jsonl").stat().st_mode) == 0o600

    retry = RejectsLog(location, "r")
    retry.add({"row": 3, "batch": None, "reason": "validation"})  # recomputed by the retry
    retry.carry(1)  # batch 1 skipped: keep its rejection; batch 2 resent: it will report again
    retry.publish()
    lines = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(e["row"], e["batch"], e["run_id"]) for e in lines] == [(3, None, "r"), (1500, 1, "r")]

    assert RejectsLog(location, "r").publish() is None  # nothing rejected: no stale file left behind
    assert not (tmp_path / "rejects.jsonl").exists()
