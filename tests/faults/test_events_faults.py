"""Fault matrix of TikTokEventsUploadOperator: each fault injected on ``event/track/``. Every good event reaches
TikTok exactly once by event_id, a retry of the run resends no accepted batch, non-retryable faults fail at
once with an actionable message, endless retryable ones give up after ``max_attempts``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_tiktok.compat import AirflowFailException
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator
from tests.helpers.airflow_context import FakeTaskInstance
from tests.helpers.events import PIXEL, operator, records
from tests.helpers.faults import (
    FAULTS,
    LOCK_SECONDS,
    SHORT_TIMEOUT,
    TIMEOUT_DELAY_MS,
    FaultEnv,
    check_error,
    check_fault_seen,
    fault_cases,
    fault_rules,
)

pytestmark = pytest.mark.integration

TRACK = "event/track"
ROWS = 2500
#: Input rows (0-based) of each batch of 1,000.
BATCHES = [range(0, 1000), range(1000, 2000), range(2000, 2500)]
RUN_ID = "manual__2026-03-10T15:30:00+00:00"


def upload(
    env: FaultEnv, rows: list[dict[str, Any]] | None = None, timeout: float = 60.0, **kwargs: Any
) -> TikTokEventsUploadOperator:
    """The upload operator on the fault emulator, with virtual backoff."""
    op = operator(events=records(ROWS) if rows is None else rows, **kwargs)
    op.hook.sleep = env.sleep
    op.hook.timeout = timeout
    return op


def context() -> dict[str, Any]:
    """The task context of one run (the same run each time: a second execute is an Airflow retry)."""
    return {"ti": FakeTaskInstance(RUN_ID, dag_id="events_dag", task_id="upload"), "run_id": RUN_ID}


def delivered(env: FaultEnv) -> dict[int, int]:
    """Receipts at the emulator per input row, found by the order id TikTok stored (not by the provider's ids)."""
    receipts = env.state.event_summary(PIXEL)["receipts"]
    stored = env.state.events.get(PIXEL, {})
    return {int(event["properties"]["order_id"].removeprefix("order-")): receipts[i] for i, event in stored.items()}


def once(rows: range | set[int]) -> dict[int, int]:
    """Each of ``rows`` received exactly once."""
    return dict.fromkeys(sorted(rows), 1)


def resume_sends_nothing(env: FaultEnv) -> None:
    """A retry of the finished run resends no batch TikTok accepted."""
    before = len(env.log(TRACK))
    summary = upload(env).execute(context())
    assert len(env.log(TRACK)) == before
    assert (summary["batches_resumed"], summary["api_calls"], summary["sent"]) == (3, 0, ROWS)


def transport_fault(env: FaultEnv, fault: str, retries: int) -> None:
    """The hook retries the faulted attempts; every event arrives once; a resumed run sends nothing."""
    env.add(fault_rules(fault, TRACK))
    summary = upload(env).execute(context())
    assert delivered(env) == once(range(ROWS))
    assert (summary["sent"], summary["rejected"]) == (ROWS, 0)
    assert summary["api_calls"] == len(env.log(TRACK)) == 3 + retries
    check_fault_seen(env, fault, TRACK, retries)
    resume_sends_nothing(env)


def case_timeout(env: FaultEnv) -> None:
    """The timed-out attempt is processed after the client gave up and resent: its batch arrives twice, which
    TikTok de-duplicates by event_id (the only safe choice when an answer is lost); nothing else repeats."""
    env.add(fault_rules("timeout", TRACK))
    summary = upload(env, timeout=SHORT_TIMEOUT).execute(context())
    env.wait_answered(TRACK, 4)
    got = delivered(env)
    twice = {row for row, n in got.items() if n == 2}
    assert set(got) == set(range(ROWS))
    assert set(got.values()) == {1, 2}
    assert any(twice == set(batch) for batch in BATCHES)
    [late] = [e for e in env.log(TRACK) if e["fault"] == "delay"]
    assert late["code"] == 0
    assert late["t"] - late["arrived"] >= TIMEOUT_DELAY_MS / 1000 - 0.01
    assert summary["api_calls"] == 4
    assert summary["sent"] == ROWS
    resume_sends_nothing(env)


def case_partial(env: FaultEnv) -> None:
    """Two batches answer 20001 naming 5 events each: those 10 go to the rejects file (never resent), the
    other 2,490 arrive once, and the task fails for the rejected share after sending everything."""
    env.add([f"path={TRACK},kind=code,code=20001,failed=5,count=2"])
    with pytest.raises(AirflowFailException, match=r"10 of 2500 events were rejected") as info:
        upload(env).execute(context())
    rejects_uri = str(info.value).split("rows are in ")[1].split(";")[0]
    with open(rejects_uri, encoding="utf-8") as handle:
        entries = [json.loads(line) for line in handle]
    by_batch: dict[int, list[int]] = {}
    for entry in entries:
        by_batch.setdefault(entry["batch"], []).append(entry["row"] - 1)
    assert len(by_batch) == 2
    assert [e["code"] for e in entries] == [40002] * 10
    for batch, rows in by_batch.items():
        size = len(BATCHES[batch])
        assert sorted(rows) == [BATCHES[batch][0] + (i * size) // 5 for i in range(5)]  # as the emulator named them
    assert {e["reason"] for e in entries} == {"rejected by an injected partial-success fault"}
    rejected = {row for rows in by_batch.values() for row in rows}
    assert delivered(env) == once(set(range(ROWS)) - rejected)
    assert [e["code"] for e in env.log(TRACK)].count(20001) == 2
    assert len(env.log(TRACK)) == 3
    before = len(env.log(TRACK))
    with pytest.raises(AirflowFailException, match=r"10 of 2500"):  # a retry resends nothing, not even the 10
        upload(env).execute(context())
    assert len(env.log(TRACK)) == before


def case_lock(env: FaultEnv) -> None:
    """A 5-minute lock: the rate-limit backoff (virtual seconds) outlasts it within max_attempts."""
    env.add(fault_rules("lock_300s", TRACK))
    op = upload(env)
    summary = op.execute(context())
    assert delivered(env) == once(range(ROWS))
    locked = [e for e in env.log(TRACK) if e["code"] == 40100]
    assert 1 <= len(locked) <= 3 * (op.hook.max_attempts - 1)
    assert env.sleep.elapsed + (locked[-1]["t"] - locked[0]["arrived"]) >= LOCK_SECONDS
    assert min(env.sleep.delays) >= 2.5  # rate-limit codes back off from 5 s (jitter 0.5-1)
    assert summary["api_calls"] == len(env.log(TRACK)) == 3 + len(locked)


def case_revoked(env: FaultEnv) -> None:
    """The token is revoked after the first accepted batch: the run fails at once (one 40105, no retry) with
    the code, the remedy and the request id; with a new token the same run sends only the two other batches."""
    op = upload(env, max_in_flight=1)
    env.revoke_after(op.hook, 1)
    with pytest.raises(TikTokApiError) as info:
        op.execute(context())
    [refused] = [e for e in env.log(TRACK) if e["code"] == 40105]
    assert [e["code"] for e in env.log(TRACK)] == [0, 40105]
    check_error(info.value, 40105, refused["request_id"], hint="re-authorise")
    env.new_token()
    summary = upload(env, max_in_flight=1).execute(context())
    assert (summary["batches_resumed"], summary["api_calls"], summary["sent"]) == (1, 2, ROWS)
    assert delivered(env) == once(range(ROWS))


CASES = fault_cases(
    transport_fault, timeout=case_timeout, partial_20001=case_partial, lock_300s=case_lock, token_revoked=case_revoked
)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix(env: FaultEnv, fault: str) -> None:
    CASES[fault](env)


@pytest.mark.parametrize(
    ("code", "message", "hint"),
    [
        (40001, None, "no permission for this advertiser"),
        (40002, "event_source_id: Invalid value", "the request parameters are invalid"),  # the request, not a row
    ],
)
def test_non_retryable_codes_fail_fast_and_a_retry_sends_the_rest(
    env: FaultEnv, code: int, message: str | None, hint: str
) -> None:
    env.add([f"path={TRACK},kind=code,code={code},count=1" + (f",message={message}" if message else "")])
    with pytest.raises(TikTokApiError) as info:
        upload(env, max_in_flight=1).execute(context())
    [failed] = env.log(TRACK)  # one attempt, nothing sent after it
    check_error(info.value, code, failed["request_id"], hint=hint)
    summary = upload(env, max_in_flight=1).execute(context())
    assert (summary["batches_resumed"], summary["api_calls"]) == (0, 3)
    assert delivered(env) == once(range(ROWS))


def test_an_endless_retryable_fault_gives_up_after_max_attempts(env: FaultEnv) -> None:
    env.add([f"path={TRACK},kind=code,code=50000,count=100"])
    op = upload(env, rows=records(10))
    op.hook.max_attempts = 3
    with pytest.raises(TikTokApiError, match=r"gave up after 3 attempts") as info:
        op.execute(context())
    attempts = env.log(TRACK)
    assert [e["code"] for e in attempts] == [50000] * 3
    check_error(info.value, 50000, attempts[-1]["request_id"])
    assert len(env.sleep.delays) == 2
