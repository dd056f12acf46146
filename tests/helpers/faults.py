"""The fault matrix: the faults and the emulator rules injecting them, a virtual sleep, one case's environment,
and the checks shared by the operators' matrices."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.state import EmulatorState
from airflow_provider_tiktok.emulator.testing import EmulatorServer

#: The nine faults of issue 7, in the order the matrix lists them.
FAULTS = ("rate_limit_40100", "rate_limit_40133", "http_5xx", "timeout", "reset", "slow", "partial_20001", "lock_300s")
FAULTS += ("token_revoked",)
#: The hook's timeout in the timeout cases (1.5 real seconds, not 60; at 0.5 s a loaded machine turned a normal
#: answer into a timeout); the other cases keep the default, so a loaded machine cannot do that to them.
SHORT_TIMEOUT = 1.5
#: Latency of the "timeout" fault (over SHORT_TIMEOUT) and of the "slow" fault (far under any timeout).
TIMEOUT_DELAY_MS = 2500
SLOW_DELAY_MS = 100
LOCK_SECONDS = 300.0
#: The raw token the connection carries: it must never show in an error.
RAW_SECRETS = (ACCESS_TOKEN, APP_SECRET)


def fault_rules(fault: str, path: str) -> list[str]:
    """Emulator rules injecting ``fault`` on requests whose path contains ``path`` (the transport faults;
    ``partial_20001`` and ``token_revoked`` are set up by each operator's test)."""
    rules = {
        "rate_limit_40100": [f"path={path},kind=code,code=40100,count=2"],
        "rate_limit_40133": [f"path={path},kind=code,code=40133,count=2"],
        "http_5xx": [f"path={path},kind=http,status={status},count=1" for status in (500, 502, 503)],
        "timeout": [f"path={path},kind=delay,ms={TIMEOUT_DELAY_MS},count=1"],
        "reset": [f"path={path},kind=reset,count=2"],
        "slow": [f"path={path},kind=delay,ms={SLOW_DELAY_MS}"],
        "lock_300s": [f"path={path},kind=lock,seconds={LOCK_SECONDS:g},count=1"],
    }
    return rules[fault]


#: The faults each operator meets with one ``transport_fault(env, fault, per_path)`` check, and how many faulted
#: attempts :func:`fault_rules` injects on each path (the slow one adds latency, no failed attempt).
TRANSPORT_FAULTS = {"rate_limit_40100": 2, "rate_limit_40133": 2, "http_5xx": 3, "reset": 2, "slow": 0}


def fault_cases(
    transport_fault: Callable[[FaultEnv, str, int], None], **own_cases: Callable[[FaultEnv], None]
) -> dict[str, Callable[[FaultEnv], None]]:
    """One operator's matrix: its ``transport_fault`` check for each transport fault, and its own case for the
    others (a transport fault too, where the operator meets it differently); every fault of :data:`FAULTS`."""

    def transport(fault: str, per_path: int) -> Callable[[FaultEnv], None]:
        return lambda env: transport_fault(env, fault, per_path)

    cases = {fault: transport(fault, per_path) for fault, per_path in TRANSPORT_FAULTS.items()}
    cases.update(own_cases)
    assert set(cases) == set(FAULTS), "every fault of the matrix needs exactly one case"
    return cases


class VirtualSleep:
    """A hook ``sleep`` that waits no real time: it adds up each thread's waits and moves the emulator's fault
    clock forward by the longest thread's total (threads wait side by side), so a lock ends once the client
    has backed off for as long as the lock lasts."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.delays: list[float] = []
        #: Virtual seconds elapsed: the largest total any one thread has waited.
        self.elapsed = 0.0
        self._per_thread: dict[int, float] = {}
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.delays.append(seconds)
            mine = self._per_thread.get(threading.get_ident(), 0.0) + seconds
            self._per_thread[threading.get_ident()] = mine
            if mine > self.elapsed:
                with self.state.lock:
                    self.state.faults.advance(mine - self.elapsed)
                self.elapsed = mine


@dataclass
class FaultEnv:
    """One matrix case: the emulator, its connection, the virtual sleep and the real start time."""

    server: EmulatorServer
    home: Path
    set_conn: Callable[..., None]
    sleep: VirtualSleep
    started: float = field(default_factory=time.monotonic)

    @property
    def state(self) -> EmulatorState:
        """The emulator's live state."""
        return self.server.state

    def add(self, rules: list[str]) -> None:
        """Inject fault rules at the emulator."""
        for rule in rules:
            self.state.faults.add(rule)

    def connect(self, token: str = ACCESS_TOKEN, rate: str = "1000") -> None:
        """Point ``tiktok_default`` at the emulator with ``token`` and ``rate`` requests/s for both budgets."""
        self.set_conn(
            host=self.server.url,
            token=token,
            app_id=APP_ID,
            app_secret=APP_SECRET,
            rate_limit=rate,
            events_rate_limit=rate,
        )

    def log(self, path: str = "") -> list[dict[str, Any]]:
        """The emulator's request log, only paths containing ``path``."""
        return [entry for entry in self.state.requests() if path in entry["path"]]

    def wait_answered(self, path: str, count: int, timeout: float = 5.0) -> None:
        """Wait (bounded) until the emulator logged ``count`` requests on ``path``: a request delayed past the
        client's timeout is still processed, after the client moved on."""
        deadline = time.monotonic() + timeout
        while len(self.log(path)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.log(path)) >= count, f"the emulator answered {len(self.log(path))} of {count} on {path}"

    def revoke_after(self, hook: Any, successes: int) -> None:
        """Revoke the connection's token at the emulator once ``hook`` got ``successes`` successful answers."""
        original = hook._send_once
        done = {"n": 0}

        def sending(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            data = original(method, path, **kwargs)
            done["n"] += 1
            if done["n"] == successes:
                self.state.revoke_token(ACCESS_TOKEN)
            return data

        hook._send_once = sending

    def new_token(self) -> str:
        """A fresh valid token at the emulator, set as the connection's password (the user re-authorised)."""
        token = self.state.issue_token()
        self.connect(token=token)
        return token


def check_fault_seen(env: FaultEnv, fault: str, path: str, expected: int) -> None:
    """The emulator answered ``path`` with the injected fault ``expected`` times (``slow``: every time)."""
    entries = env.log(path)
    if fault in ("rate_limit_40100", "rate_limit_40133"):
        assert [e["code"] for e in entries].count(int(fault[-5:])) == expected
    elif fault == "http_5xx":
        assert [e["http_status"] for e in entries if e["fault"] == "http"] == [500, 502, 503][:expected]
    elif fault == "reset":
        assert sum(e["fault"] == "reset" for e in entries) == expected
    elif fault == "timeout":
        assert sum(e["fault"] == "delay" for e in entries) == expected
    elif fault == "slow":  # every request is slow
        assert entries
        assert all(e["fault"] == "delay" for e in entries)


def check_error(err: BaseException, code: int | None, request_id: str | None, *, hint: str | None = None) -> str:
    """An actionable error: names the code, the request id (``-`` when nothing answered) and what to do; no
    secret, no PII."""
    text = str(err)
    assert f"code={code}" in text, text
    assert f"request_id={request_id or '-'}" in text, text
    if hint:
        assert hint in text, text
    for secret in RAW_SECRETS:
        assert secret not in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text), "an e-mail address in the error"
    return text


def tries(
    run: Callable[[], Any], limit: int, between: Callable[[], None] = lambda: None
) -> tuple[Any, list[BaseException]]:
    """Run ``run`` like Airflow with ``limit`` tries, calling ``between`` before each retry (the retry delay):
    its result and the errors of the failed tries."""
    errors: list[BaseException] = []
    for _ in range(limit):
        if errors:
            between()
        try:
            return run(), errors
        except Exception as err:
            errors.append(err)
    raise AssertionError(f"still failing after {limit} tries: {errors[-1]!r}") from errors[-1]
