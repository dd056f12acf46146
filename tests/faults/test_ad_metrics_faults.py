"""Fault matrix of TikTokAdMetricsOperator: each fault injected on the paths an import uses (advertiser info,
report pages, ad/get). Every day ends complete (exactly the emulator's own rows for it) and unduplicated, a rerun
writes the same bytes, non-retryable faults fail at once with an actionable message, endless ones give up."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator
from tests.helpers.ad_metrics import expected_partition, partition
from tests.helpers.airflow_context import FakeTaskInstance
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

DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
PATHS = ("advertiser/info", "report/integrated/get", "ad/get")
REPORT = "report/integrated/get"


def importer(env: FaultEnv, timeout: float = 60.0) -> TikTokAdMetricsOperator:
    """The three-day import into a folder, with virtual backoff."""
    op = TikTokAdMetricsOperator(
        task_id="metrics",
        date_from=DAYS[0].isoformat(),
        date_to=DAYS[-1].isoformat(),
        destination=str(env.home / "metrics"),
    )
    op.hook.sleep = env.sleep
    op.hook.timeout = timeout
    return op


def run_import(env: FaultEnv, timeout: float = 60.0) -> dict[str, Any]:
    """One try of the import task."""
    return importer(env, timeout).execute({"ti": FakeTaskInstance()})


def stored(env: FaultEnv) -> dict[str, bytes]:
    """Every file under the destination, by relative path (temporary files would show here too)."""
    root = env.home / "metrics"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def check_complete(env: FaultEnv) -> None:
    """Exactly the three day files, each equal to the emulator's rows for it, no ad twice; a rerun with no fault
    rewrites the same bytes."""
    root: Path = env.home / "metrics"
    files = stored(env)
    assert sorted(files) == [str(partition(root, ADVERTISER_A, day).relative_to(root)) for day in DAYS]
    for day in DAYS:
        text = partition(root, ADVERTISER_A, day).read_text(encoding="utf-8")
        assert text == expected_partition(env.server, ADVERTISER_A, day)
        ids = [line.split('"ad_id":"')[1].split('"')[0] for line in text.splitlines()]
        assert len(ids) == len(set(ids)) > 0
    env.state.faults.clear()
    run_import(env)
    assert stored(env) == files


def transport_fault(env: FaultEnv, fault: str, per_path: int) -> None:
    """The hook retries the faulted attempts; the import succeeds in one try."""
    for path in PATHS:
        env.add(fault_rules(fault, path))
    summary = run_import(env)
    for path in PATHS:
        check_fault_seen(env, fault, path, per_path)
    assert summary["api_calls"] == len(env.log()) == 4 + (3 * per_path if fault != "slow" else 0)
    check_complete(env)


def case_timeout(env: FaultEnv) -> None:
    """Reads whose answer is lost are simply read again (a late answer changes nothing)."""
    for path in PATHS:
        env.add(fault_rules("timeout", path))
    summary = run_import(env, SHORT_TIMEOUT)
    env.wait_answered("", 7)
    assert summary["api_calls"] == 7
    assert sum(e["fault"] == "delay" for e in env.log()) == 3
    check_complete(env)


def case_partial(env: FaultEnv) -> None:
    """TikTok never answers 20001 to report or ad/get reads (tiktok-api.md: partial success means rows left
    out); a partial read must not become a day file, so the try fails and the next one imports the days whole."""
    env.add([f"path={path},kind=code,code=20001,count=1" for path in (REPORT, "ad/get")])
    _, errors = tries(lambda: run_import(env), 3)
    partial = [e for e in env.log() if e["code"] == 20001]
    assert [e["path"].split("v1.3/")[1] for e in partial] == ["report/integrated/get/", "ad/get/"]
    assert len(errors) == 2
    for err, answer in zip(errors, partial, strict=True):
        check_error(err, 20001, answer["request_id"], hint="nothing was written")
    check_complete(env)


def case_lock(env: FaultEnv) -> None:
    """A 5-minute lock of the report: the rate-limit backoff (virtual seconds) outlasts it within max_attempts."""
    env.add(fault_rules("lock_300s", REPORT))
    op = importer(env)
    op.execute({"ti": FakeTaskInstance()})
    locked = [e for e in env.log(REPORT) if e["code"] == 40100]
    assert 1 <= len(locked) <= op.hook.max_attempts - 1
    assert env.sleep.elapsed + (locked[-1]["t"] - locked[0]["arrived"]) >= LOCK_SECONDS
    check_complete(env)


def case_revoked(env: FaultEnv) -> None:
    """Revoked after the profile and the first report page: the second page fails at once (one 40105) with the
    code, the remedy and the request id, and writes no day; with a new token the import completes."""
    op = importer(env)
    env.revoke_after(op.hook, 2)
    with pytest.raises(TikTokApiError) as info:
        op.execute({"ti": FakeTaskInstance()})
    [refused] = [e for e in env.log() if e["code"] == 40105]
    assert [e["code"] for e in env.log()] == [0, 0, 40105]
    assert refused["query"]["page"] == "2"
    check_error(info.value, 40105, refused["request_id"], hint="re-authorise")
    assert stored(env) == {}
    env.new_token()
    run_import(env)
    check_complete(env)


CASES = fault_cases(
    transport_fault, timeout=case_timeout, partial_20001=case_partial, lock_300s=case_lock, token_revoked=case_revoked
)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix(env: FaultEnv, fault: str) -> None:
    CASES[fault](env)


@pytest.mark.parametrize(
    ("path", "code", "hint"),
    [(REPORT, 40001, "no permission for this advertiser"), ("ad/get", 40002, "the request parameters are invalid")],
)
def test_non_retryable_codes_fail_fast(env: FaultEnv, path: str, code: int, hint: str) -> None:
    env.add([f"path={path},kind=code,code={code},count=1"])
    with pytest.raises(TikTokApiError) as info:
        run_import(env)
    [failed] = env.log(path)  # one attempt, and nothing sent after it
    assert env.log()[-1] == failed
    check_error(info.value, code, failed["request_id"], hint=hint)
    assert stored(env) == {}
    run_import(env)
    check_complete(env)


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        (f"path={REPORT},kind=code,code=40100,count=100", 40100, "rate limit was hit"),
        (f"path={REPORT},kind=delay,ms={TIMEOUT_DELAY_MS},count=100", None, f"timed out after {SHORT_TIMEOUT}s"),
    ],
)
def test_an_endless_retryable_fault_gives_up_after_max_attempts(
    env: FaultEnv, rule: str, code: int | None, message: str
) -> None:
    env.add([rule])
    op = importer(env, SHORT_TIMEOUT)
    op.hook.max_attempts = 3
    with pytest.raises(TikTokApiError, match=r"gave up after 3 attempts") as info:
        op.execute({"ti": FakeTaskInstance()})
    env.wait_answered(REPORT, 3)
    attempts = env.log(REPORT)
    assert len(attempts) == 3
    assert len(env.sleep.delays) == 2
    # A timeout has no answer, hence no request id to show ("-").
    check_error(info.value, code, attempts[-1]["request_id"] if code else None, hint=message)
    assert stored(env) == {}
