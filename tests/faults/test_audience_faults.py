"""Fault matrix of TikTokAudienceSyncOperator: each fault injected on the paths a sync uses (audience list, file
upload, create, update) over three syncs (CREATE, REPLACE, APPEND + REMOVE). The audience ends exactly equal to
the last cohort (hashes computed here), one audience of its name exists, and the audience calls of the day stay
within 24 at the emulator and in the provider's ledger, which never counts fewer than TikTok."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator
from tests.helpers.deferral import execute_deferring
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
    tries,
)

pytestmark = pytest.mark.integration

NAME = "Fault matrix buyers"
AUDIENCE = "custom_audience"
PATHS = ("custom_audience/list", "custom_audience/file/upload", "custom_audience/create", "custom_audience/update")
#: Three syncs: create from 3,000 members, churn 100 out / 150 in (one REPLACE), churn again (APPEND + REMOVE,
#: since the REPLACE may still be processing).
COHORTS = [range(0, 3000), range(100, 3150), range(200, 3250)]
CALLS = ["CREATE", "REPLACE", "APPEND", "REMOVE"]
TODAY = "2026-03-10"


def raw_members(numbers: range) -> list[str]:
    """Raw e-mails as a CRM exports them: mixed case and stray spaces."""
    return [f"  Member{i}@Example.COM " for i in numbers]


def expected_hashes(numbers: range) -> list[str]:
    """What TikTok must hold: SHA-256 of the trimmed, lower-cased e-mail, computed here, sorted."""
    return sorted(hashlib.sha256(f"member{i}@example.com".encode()).hexdigest() for i in numbers)


def sync(env: FaultEnv, numbers: range, timeout: float = 60.0) -> TikTokAudienceSyncOperator:
    """A mirror sync of ``numbers`` on the emulator's clock, with virtual backoff."""
    op = TikTokAudienceSyncOperator(
        task_id="sync",
        members=raw_members(numbers),
        id_type="email",
        audience_name=NAME,
        advertiser_id=ADVERTISER_A,
        state_uri=str(env.home / "state"),
    )
    op.hook.sleep = env.sleep
    op.hook.timeout = timeout
    return op


class FakeTI:
    """What the audience operator reads from and pushes to its task instance."""

    task_id, try_number = "sync", 1

    def xcom_push(self, key: str, value: Any) -> None:
        """Ignore the link URL."""


def context() -> dict[str, Any]:
    """A task context (the ledger names the run in each call it records)."""
    return {"ti": FakeTI(), "run_id": "scheduled__2026-03-10T15:00:00+00:00"}


def run_syncs(
    env: FaultEnv, *, limit: int = 1, between: Callable[[], None] = lambda: None, timeout: float = 60.0
) -> list[BaseException]:
    """Run the three syncs, each with up to ``limit`` Airflow tries; the errors of the failed tries."""
    errors: list[BaseException] = []
    for numbers in COHORTS:
        _, failed = tries(
            lambda numbers=numbers: execute_deferring(sync(env, numbers, timeout), context(), env.state.set_clock),
            limit,
            between,
        )
        errors.extend(failed)
    return errors


def ledger_calls(env: FaultEnv) -> list[dict[str, Any]]:
    """Today's calls in the provider's ledger of the audience (read from its file)."""
    [ledger] = (env.home / "state" / "audiences" / ADVERTISER_A).glob("*/ledger.json")
    return json.loads(ledger.read_text(encoding="utf-8"))["calls"][TODAY]


def check_outcome(env: FaultEnv, *, tiktok_calls: int = len(CALLS)) -> tuple[int, int]:
    """One audience of the name, equal to the last cohort; TikTok counted ``tiktok_calls``; the ledger holds every
    create/update attempt that reached TikTok (it reserves each before sending), so never fewer; all within 24."""
    assert env.state.wait_idle()  # a request delayed past its client's timeout lands before counting
    named = [a for a in env.state.audiences.values() if a.name == NAME]
    assert len(named) == 1, f"{len(named)} audiences named {NAME!r}"
    audience_id = named[0].audience_id
    assert env.state.audience_members(audience_id) == expected_hashes(COHORTS[-1])
    at_tiktok = env.state.audience_calls_today(audience_id)
    in_ledger = len(ledger_calls(env))
    attempts = len(env.log("custom_audience/create")) + len(env.log("custom_audience/update"))
    assert at_tiktok == tiktok_calls
    assert at_tiktok <= in_ledger == attempts <= 24
    return at_tiktok, in_ledger


def transport_fault(env: FaultEnv, fault: str, per_path: int) -> None:
    """Answered failures: the hook retries each faulted attempt (a CREATE after a lookup by name finds nothing),
    reserving each in the ledger first; the syncs succeed in one try each."""
    for path in PATHS:
        env.add(fault_rules(fault, path))
    assert run_syncs(env) == []
    check_outcome(env)
    for path in PATHS:
        check_fault_seen(env, fault, path, per_path)
    failed = [("failed", per_path)] if fault != "slow" else []
    expected = [("CREATE", status) for status, n in [*failed, ("accepted", 1)] for _ in range(n)]
    expected += [("REPLACE", status) for status, n in [*failed, ("accepted", 1)] for _ in range(n)]
    expected += [("APPEND", "accepted"), ("REMOVE", "accepted")]
    assert [(c["action"], c["status"]) for c in ledger_calls(env)] == expected


def ledger_outcomes(env: FaultEnv) -> list[tuple[str, str, bool]]:
    """(action, status, answered) of today's ledger calls."""
    return [(c["action"], c["status"], c.get("answered", True)) for c in ledger_calls(env)]


def check_unanswered_errors(errors: list[BaseException], count: int) -> None:
    """Each failed try says the call got no answer and is not resent; no answer means no request id ('-')."""
    assert len(errors) == count
    for error in errors:
        check_error(error, None, None, hint="so it is not sent again; the task's next try waits for it")


def case_timeout(env: FaultEnv) -> None:
    """Answers lost to timeouts; TikTok still carries the calls out, later. Neither the CREATE nor the REPLACE
    is resent in the try (a late landing could undo the resend or the next call): each try fails; the next
    one, after Airflow's retry delay, adopts the audience found by name and sets the members whole."""
    for path in PATHS:
        env.add(fault_rules("timeout", path))
    errors = run_syncs(env, limit=3, between=lambda: time.sleep(TIMEOUT_DELAY_MS / 1000), timeout=SHORT_TIMEOUT)
    check_unanswered_errors(errors, 2)
    check_outcome(env, tiktok_calls=7)  # the late CREATE and REPLACE, their tries' REPLACE, 2 x APPEND + REMOVE
    assert ledger_outcomes(env) == [
        ("CREATE", "failed", False),
        ("REPLACE", "failed", False),
        ("REPLACE", "accepted", True),
        ("APPEND", "accepted", True),
        ("REMOVE", "accepted", True),
        ("APPEND", "accepted", True),
        ("REMOVE", "accepted", True),
    ]


def case_reset(env: FaultEnv) -> None:
    """Dropped connections: reads and uploads are retried in the try; a dropped CREATE or REPLACE may have
    reached TikTok, so it is not resent: the try fails and the next one looks first (nothing landed here)."""
    for path in PATHS:
        env.add(fault_rules("reset", path))
    errors = run_syncs(env, limit=3)
    check_unanswered_errors(errors, 4)
    check_outcome(env)
    for path in PATHS:
        check_fault_seen(env, "reset", path, 2)
    assert ledger_outcomes(env) == [
        ("CREATE", "failed", False),
        ("CREATE", "failed", False),
        ("CREATE", "accepted", True),
        ("REPLACE", "failed", False),
        ("REPLACE", "failed", False),
        ("REPLACE", "accepted", True),
        ("APPEND", "accepted", True),
        ("REMOVE", "accepted", True),
    ]


def case_partial(env: FaultEnv) -> None:
    """TikTok never answers 20001 to audience calls (tiktok-api.md lists it for row uploads); if it did, part of
    the change could be missing, so the call counts as failed, the snapshot stays, and the next try resends."""
    env.add([f"path={AUDIENCE}/{call},kind=code,code=20001,count=1" for call in ("create", "update")])
    errors = run_syncs(env, limit=2)
    partial = [e for e in env.log(AUDIENCE) if e["code"] == 20001]
    assert [type(e) for e in errors] == [TikTokApiError, TikTokApiError]
    assert len(partial) == 2
    for err, answer in zip(errors, partial, strict=True):
        check_error(err, 20001, answer["request_id"], hint="the next try of the task sends it again")
    check_outcome(env)
    assert [(c["action"], c["status"], c["code"]) for c in ledger_calls(env)] == [
        ("CREATE", "failed", 20001),
        ("CREATE", "accepted", None),
        ("REPLACE", "failed", 20001),
        ("REPLACE", "accepted", None),
        ("APPEND", "accepted", None),
        ("REMOVE", "accepted", None),
    ]


def case_lock(env: FaultEnv) -> None:
    """A 5-minute lock of every audience path: the backoff (virtual seconds) outlasts it within max_attempts."""
    env.add([f"path={AUDIENCE},kind=lock,seconds={LOCK_SECONDS:g},count=1"])
    assert run_syncs(env) == []
    check_outcome(env)
    locked = [e for e in env.log(AUDIENCE) if e["code"] == 40100]
    assert 1 <= len(locked) <= 9
    assert locked[0]["path"].endswith("custom_audience/list/")
    assert env.sleep.elapsed + (locked[-1]["t"] - locked[0]["arrived"]) >= LOCK_SECONDS


def case_revoked(env: FaultEnv) -> None:
    """Revoked after the list and the upload: the create fails at once (one 40105) naming the code, the remedy
    and the request id; with a new token the retry creates the audience once and the other syncs follow."""
    first = sync(env, COHORTS[0])
    env.revoke_after(first.hook, 2)
    with pytest.raises(TikTokApiError) as info:
        execute_deferring(first, context(), env.state.set_clock)
    [refused] = [e for e in env.log() if e["code"] == 40105]
    assert refused["path"].endswith("custom_audience/create/")
    assert len(env.log()) == 3
    check_error(info.value, 40105, refused["request_id"], hint="re-authorise")
    env.new_token()
    assert run_syncs(env) == []
    check_outcome(env)
    assert [(c["action"], c["status"], c["code"]) for c in ledger_calls(env)][:2] == [
        ("CREATE", "failed", 40105),
        ("CREATE", "accepted", None),
    ]


CASES = fault_cases(
    transport_fault,
    timeout=case_timeout,
    reset=case_reset,
    partial_20001=case_partial,
    lock_300s=case_lock,
    token_revoked=case_revoked,
)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix(env: FaultEnv, fault: str) -> None:
    CASES[fault](env)


@pytest.mark.parametrize(
    ("sync_number", "call", "code", "hint"),
    [
        (0, "create", 40001, "no permission for this advertiser"),
        (1, "update", 40002, "the request parameters are invalid"),
    ],
)
def test_non_retryable_codes_fail_fast(env: FaultEnv, sync_number: int, call: str, code: int, hint: str) -> None:
    """One attempt, counted in the ledger as failed; the next try applies the change."""
    env.add([f"path={AUDIENCE}/{call},kind=code,code={code},count=1"])
    for numbers in COHORTS[:sync_number]:
        execute_deferring(sync(env, numbers), context(), env.state.set_clock)
    with pytest.raises(TikTokApiError) as info:
        execute_deferring(sync(env, COHORTS[sync_number]), context(), env.state.set_clock)
    [failed] = env.log(f"{AUDIENCE}/{call}")
    assert env.log()[-1] == failed
    check_error(info.value, code, failed["request_id"], hint=hint)
    assert [(c["status"], c["code"]) for c in ledger_calls(env)][-1] == ("failed", code)
    assert run_syncs(env) == []
    check_outcome(env)


def test_an_endless_retryable_fault_gives_up_after_max_attempts(env: FaultEnv) -> None:
    """Uploads failing with 503 give up after max_attempts, before any audience call is reserved or sent."""
    env.add([f"path={AUDIENCE}/file/upload,kind=http,status=503,count=100"])
    op = sync(env, COHORTS[0])
    op.hook.max_attempts = 3
    with pytest.raises(TikTokApiError, match=r"gave up after 3 attempts") as info:
        execute_deferring(op, context(), env.state.set_clock)
    attempts = env.log("file/upload")
    assert [e["http_status"] for e in attempts] == [503] * 3
    check_error(info.value, None, attempts[-1]["request_id"])
    assert "http_status=503" in str(info.value)
    assert env.log("custom_audience/create") == []
    assert env.state.audiences == {}
