"""The upload operator against the emulator: request counts, bad rows, faults, retries, and no PII anywhere."""

from __future__ import annotations

import json
import logging
import stat

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.emulator import ACCESS_TOKEN
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.links import XCOM_LINK_KEY
from tests.helpers.events import (
    DATA,
    NOW_S,
    PIXEL,
    operator,
    receipts,
    record,
    records,
    sha,
    track_calls,
)

pytestmark = pytest.mark.integration

SUMMARY_KEYS = {
    "event_source",
    "event_source_id",
    "received",
    "sent",
    "rejected",
    "rejected_by_reason",
    "batches",
    "batches_resumed",
    "api_calls",
    "isolation_calls",
    "duration_s",
    "events_per_s",
    "rejects_uri",
    "nonstandard_event_names",
    "dropped_fields",
    "test_event_code",
}


def rejects(path: str) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_2500_events_take_exactly_3_requests_and_arrive_once(emulator, context):
    summary = operator(events=records(2500)).execute(context())
    assert len(track_calls(emulator)) == 3
    got = receipts(emulator)
    assert len(got) == 2500
    assert set(got.values()) == {1}
    assert set(summary) == SUMMARY_KEYS
    assert {k: summary[k] for k in ("received", "sent", "rejected", "batches", "api_calls", "rejects_uri")} == {
        "received": 2500,
        "sent": 2500,
        "rejected": 0,
        "batches": 3,
        "api_calls": 3,
        "rejects_uri": None,
    }
    stored = emulator.state.events[PIXEL]
    first = next(e for e in stored.values() if e["properties"]["contents"][0]["content_id"] == "sku-7")
    assert first["user"]["email"] in {sha(f"customer{n}@example.com") for n in range(7, 2500, 50)}
    json.dumps(summary)  # JSON-safe


def test_3_invalid_rows_among_1000_997_sent_in_one_request_3_rejects_then_the_task_fails(emulator, context, home):
    op = operator(events=str(DATA / "purchases_1000_3_bad.csv"))
    with pytest.raises(AirflowFailException, match=r"3 of 1000 events were rejected"):
        op.execute(context())
    assert len(track_calls(emulator)) == 1
    assert len(receipts(emulator)) == 997
    path = home / "tiktok" / "rejects" / "events" / "events_dag" / "upload"
    [file] = list(path.iterdir())
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    entries = rejects(str(file))
    assert [(e["row"], e["field"], e["reason"]) for e in entries] == [
        (17, "currency", "is not an ISO 4217 currency code"),
        (404, "event_time", "is older than 28 days"),
        (998, "page_url", "is required for web events"),
    ]
    assert entries[0]["event"]["email"] == sha("buyer17@example.com")
    assert "buyer17@example.com" not in file.read_text()


def test_an_allowed_rejected_share_lets_the_task_succeed(emulator, context):
    summary = operator(events=str(DATA / "purchases_1000_3_bad.csv"), max_rejected_fraction=0.005).execute(context())
    assert (summary["received"], summary["sent"], summary["rejected"]) == (1000, 997, 3)
    assert summary["rejected_by_reason"] == {
        "currency: is not an ISO 4217 currency code": 1,
        "event_time: is older than 28 days": 1,
        "page_url: is required for web events": 1,
    }


@pytest.mark.parametrize(
    ("setting", "calls"),
    [(None, 4), ("event_errors_without_index", 55), ("partial_success_events", 1)],
)
def test_3_rows_tiktok_refuses_are_isolated_997_delivered_once(emulator, context, setting, calls):
    # The emulator's clock runs a day ahead of the task's: three events 27.5 days old pass the task's
    # check but are too old for TikTok.
    emulator.state.advance_clock(86_400)
    if setting:
        setattr(emulator.state.settings, setting, True)
    rows = records(1000)
    stale = NOW_S - 27 * 86_400 - 43_200
    for n in (10, 500, 999):
        rows[n - 1]["event_time"] = stale
    summary = operator(events=rows, max_rejected_fraction=0.01).execute(context())
    got = receipts(emulator)
    assert len(got) == 997
    assert set(got.values()) == {1}
    assert len(track_calls(emulator)) == summary["api_calls"] == calls
    assert summary["isolation_calls"] == calls - 1
    assert (summary["sent"], summary["rejected"]) == (997, 3)
    assert summary["rejected_by_reason"] == {"event_time: is older than 28 days": 3}
    entries = rejects(summary["rejects_uri"])
    assert sorted(e["row"] for e in entries) == [10, 500, 999]
    assert {(e["code"], e["batch"]) for e in entries} == {(40002, 0)}
    assert all(e["event"]["event_time"] == stale for e in entries)


def test_rate_limits_5xx_and_dropped_connections_still_deliver_every_event_once(emulator, context):
    for rule in (
        "path=event/track,kind=code,code=40100,count=2",
        "path=event/track,kind=code,code=40133,count=1",
        "path=event/track,kind=http,status=503,count=2",
        "path=event/track,kind=reset,count=1",
        "path=event/track,kind=code,code=50000,count=1",
    ):
        emulator.state.faults.add(rule)
    summary = operator(events=records(3000)).execute(context())
    got = receipts(emulator)
    assert len(got) == 3000
    assert set(got.values()) == {1}
    assert summary["api_calls"] == len(track_calls(emulator)) == 3 + 7
    assert summary["sent"] == 3000


def fail_call(emulator, op, call_number: int):
    """Make the ``call_number``-th request of ``op`` meet a non-retryable TikTok error at the emulator."""
    original = op.hook._send_once
    count = {"n": 0}

    def sending(method, path, **kwargs):
        count["n"] += 1
        if count["n"] == call_number:
            emulator.state.faults.add("path=event/track,kind=code,code=40001,count=1")
        return original(method, path, **kwargs)

    op.hook._send_once = sending


def test_a_retry_after_a_failure_in_batch_4_of_6_does_not_resend_batches_1_to_3(emulator, context):
    rows = records(6000)
    first = operator(events=rows, max_in_flight=1)
    fail_call(emulator, first, 4)
    with pytest.raises(TikTokApiError, match="code=40001"):
        first.execute(context())
    first_ids = [call for call in track_calls(emulator)]
    assert [c["code"] for c in first_ids] == [0, 0, 0, 40001]
    assert len(receipts(emulator)) == 3000

    summary = operator(events=rows, max_in_flight=1).execute(context())  # the same run, retried
    assert len(track_calls(emulator)) == 4 + 3
    got = receipts(emulator)
    assert len(got) == 6000
    assert set(got.values()) == {1}
    assert (summary["batches"], summary["batches_resumed"], summary["sent"], summary["api_calls"]) == (6, 3, 6000, 3)


def test_a_retry_with_batches_in_flight_keeps_what_tiktok_accepted(emulator, context):
    rows = records(6000)
    first = operator(events=rows, max_in_flight=4)
    fail_call(emulator, first, 4)
    with pytest.raises(TikTokApiError):
        first.execute(context())
    accepted_first = len(receipts(emulator))
    summary = operator(events=rows, max_in_flight=4).execute(context())
    got = receipts(emulator)
    assert len(got) == 6000
    assert set(got.values()) == {1}
    assert summary["batches_resumed"] * 1000 == accepted_first
    assert len(track_calls(emulator)) == 6 + 1


def test_another_run_or_test_code_sends_again(emulator, context):
    rows = records(10)
    operator(events=rows).execute(context("run_1"))
    operator(events=rows).execute(context("run_1"))
    assert len(track_calls(emulator)) == 1
    summary = operator(events=rows, test_event_code="TEST123").execute(context("run_1"))
    assert (summary["sent"], summary["batches"]) == (10, 10)  # test events go one per request
    operator(events=rows).execute(context("run_2"))
    assert len(track_calls(emulator)) == 12
    assert set(receipts(emulator).values()) == {3}  # TikTok de-duplicates them by event_id


def test_no_raw_email_phone_or_token_in_logs_xcom_or_files(emulator, context, home, caplog):
    caplog.set_level(logging.DEBUG)
    emulator.state.faults.add("path=event/track,kind=code,code=40100,count=1")
    rows = records(30)
    rows[3]["phone"] = "ext. 12"  # unusable: dropped, counted
    rows[4]["currency"] = "ZZZ"  # rejected before sending
    rows[5]["event_time"] = NOW_S + 3600  # rejected before sending
    ctx = context()
    summary = operator(events=rows, max_rejected_fraction=0.1).execute(ctx)
    assert summary["dropped_fields"] == {"phone": 1}
    written = "".join(p.read_text() for p in home.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
    everything = caplog.text + json.dumps(summary) + json.dumps(ctx["ti"].xcom) + written
    for row in rows:
        assert row["email"].strip() not in everything
        assert row["email"].strip().lower() not in everything
        assert row["phone"] not in everything
        assert row["phone"].replace("(", "").replace(") ", "").replace("-", "") not in everything
    assert "+1415555" not in everything
    assert ACCESS_TOKEN not in everything
    assert "TikTok events to web " + PIXEL in caplog.text


def test_link_opens_events_manager_on_the_connection_advertiser(emulator, context):
    ctx = context()
    operator(events=[record(1)]).execute(ctx)
    assert ctx["ti"].xcom == {XCOM_LINK_KEY: "https://ads.tiktok.com/i18n/events_manager?aadvid=7000000000000000001"}
