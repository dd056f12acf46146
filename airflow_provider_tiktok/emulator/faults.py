"""Fault injection: error codes, HTTP 5xx, dropped connections, latency, app locks and rate-limit enforcement.

A rule is written ``path=event/track,kind=code,code=40100,rate=0.2`` (CLI ``--fault``, the control API
or :meth:`Faults.add`). Keys:

- ``path``: a substring of the request path, or ``*`` (default) for every API path;
- ``kind``: ``code`` (answer HTTP 200 with envelope ``code``, e.g. 40100/40133/50000; the request is not
  processed, except ``code=20001`` on ``event/track``, see ``failed``), ``http`` (answer HTTP ``status``,
  500/502/503, with a plain-text body), ``reset`` (close the connection without an answer), ``delay`` (add
  ``ms`` of latency, then answer normally, even to a client that gave up waiting) or ``lock`` (answer 40100
  and keep answering 40100 to every matching path for ``seconds``, TikTok's ~5-minute lock), ``drop``
  (answer a listing page normally but without its last item, ``page_info`` unchanged: a listing whose items
  moved between pages while a client read them) or ``hide`` (the same, with ``page_info.total_number`` one
  less: an item the listing does not show at all);
- ``rate`` (fraction 0..1 of matching requests, drawn from a seeded RNG) or ``count`` (the next N matching
  requests); with neither, every matching request;
- ``code``, ``status``, ``ms``, ``seconds``, ``message``: the parameters of the kinds above;
- ``failed``: for ``code=20001`` on ``event/track``, how many events of the batch fail (default 1, spread
  evenly over it): the others are accepted and the answer's ``data.failed_events`` names the failed ones by
  ``index`` and ``event_id``, as the ``partial_success_events`` setting does. A batch whose every event would
  fail is rejected whole (40002). On other paths TikTok never answers 20001, and the rule answers it without
  processing the request, so tests can show a client does not take it for success.

Rules are tried in order; the first that fires decides (``delay`` rules add up and let the request go on).
Rate-limit enforcement (``qps``, ``per_minute``) counts requests over sliding windows of real time; a
request beyond either limit answers 40100 and starts a lock of ``rate_limit_lock_seconds`` on every path
except ``event/track`` (which TikTok limits separately, far higher). Locks and windows use the monotonic
clock, not the emulator clock, so a client's real backoff is what ends them; :meth:`Faults.advance` ages them by virtual
seconds (a test's fake sleep), :meth:`Faults.clear` ends them at once.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import asdict, dataclass
from itertools import takewhile
from typing import Any

KINDS = ("code", "http", "reset", "delay", "lock", "drop", "hide")
RATE_LIMITED = 40100
PARTIAL_SUCCESS = 20001
#: Paths the app-wide rate limit leaves alone (the Events API has its own, much higher limit).
RATE_LIMIT_EXEMPT = ("event/track",)
_SPEC_KEYS = {
    "path": "path",
    "kind": "kind",
    "code": "code",
    "status": "status",
    "ms": "delay_ms",
    "delay_ms": "delay_ms",
    "seconds": "lock_seconds",
    "lock_seconds": "lock_seconds",
    "rate": "rate",
    "count": "count",
    "message": "message",
    "failed": "failed",
}


@dataclass
class FaultRule:
    """One injection rule (see the module docstring for its keys)."""

    path: str = "*"
    kind: str = "code"
    code: int = RATE_LIMITED
    status: int = 503
    delay_ms: int = 0
    lock_seconds: float = 300.0
    rate: float | None = None
    count: int | None = None
    message: str | None = None
    failed: int = 1

    def __post_init__(self) -> None:
        """Reject rules that could never behave as written."""
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.rate is not None and not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"fault count must be >= 0, got {self.count}")
        if self.failed < 1:
            raise ValueError(f"fault failed (events failing a 20001) must be >= 1, got {self.failed}")
        if self.kind == "http" and not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP error status, got {self.status}")

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """Parse ``key=value,key=value`` (CLI and control-API form)."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key.strip() not in _SPEC_KEYS:
                raise ValueError(f"bad fault term {part!r}: expected one of {', '.join(sorted(_SPEC_KEYS))}=value")
            values[_SPEC_KEYS[key.strip()]] = value.strip()
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FaultRule:
        """Build a rule from JSON-ish values (numbers may arrive as strings)."""
        unknown = set(values) - set(_SPEC_KEYS.values())
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        converters = {
            "code": int,
            "status": int,
            "delay_ms": int,
            "lock_seconds": float,
            "rate": float,
            "count": int,
            "failed": int,
        }
        return cls(**{k: converters.get(k, str)(v) if v is not None else None for k, v in values.items()})

    def matches(self, path: str) -> bool:
        """Whether the rule applies to ``path``."""
        return self.path == "*" or self.path in path

    def fires(self, rng: random.Random) -> bool:
        """Decide (and account for) whether the rule acts on this matching request."""
        if self.count is not None:
            if self.count == 0:
                return False
            self.count -= 1
            return True
        return self.rate is None or rng.random() < self.rate


@dataclass(frozen=True)
class FaultAction:
    """What the app must do instead of answering normally."""

    kind: str  # code | http | reset | drop | hide
    code: int = 0
    status: int = 200
    message: str = ""
    #: Events failing a 20001 on ``event/track`` (the rest of the batch is accepted).
    failed: int = 0


@dataclass
class _Lock:
    """An active lock: matching paths answer 40100 until ``until`` (monotonic seconds)."""

    path: str
    until: float
    exempt_events: bool


class Faults:
    """The fault rules, locks and rate limits of one emulator (guarded by the state's lock)."""

    def __init__(self, seed: int) -> None:
        """Start with no faults; ``seed`` makes ``rate`` draws reproducible."""
        self._seed = seed
        self.clear()

    def clear(self) -> None:
        """Remove every rule, lock, rate limit, latency and report-size switch."""
        self.rules: list[FaultRule] = []
        self.latency_ms = 0
        self.qps: float | None = None
        self.per_minute: int | None = None
        self.rate_limit_lock_seconds = 300.0
        #: Report windows longer than this many days answer 40067 (query too large).
        self.max_report_days: int | None = None
        self._locks: list[_Lock] = []
        self._arrivals: deque[float] = deque()
        self._rng = random.Random(self._seed)
        #: Virtual seconds added to the monotonic clock by :meth:`advance`.
        self._offset = 0.0

    def advance(self, seconds: float) -> None:
        """Age locks and rate-limit windows by ``seconds`` as if that much time had passed (fake sleeps in tests)."""
        if seconds < 0:
            raise ValueError("faults can only be advanced forwards")
        self._offset += seconds

    def add(self, rule: FaultRule | str | dict[str, Any]) -> FaultRule:
        """Append a rule given as a :class:`FaultRule`, a spec string or a dict."""
        if isinstance(rule, str):
            rule = FaultRule.parse(rule)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict(rule)
        self.rules.append(rule)
        return rule

    def set_rate_limit(
        self, qps: float | None = None, per_minute: int | None = None, lock_seconds: float | None = None
    ) -> None:
        """Enforce app-wide limits; a breach answers 40100 and locks for ``lock_seconds`` (default 300)."""
        self.qps = qps
        self.per_minute = per_minute
        if lock_seconds is not None:
            self.rate_limit_lock_seconds = lock_seconds

    def lock(self, seconds: float, path: str = "*", now: float | None = None) -> None:
        """Lock ``path`` (substring or ``*``) for ``seconds`` from now (or from monotonic time ``now``)."""
        start = time.monotonic() + self._offset if now is None else now
        self._locks.append(_Lock(path, start + seconds, exempt_events=False))

    def locked(self, path: str, now: float) -> bool:
        """Whether a live lock covers ``path`` at virtual time ``now``; expired locks are dropped."""
        self._locks = [lock for lock in self._locks if lock.until > now]
        return any(
            (lock.path == "*" or lock.path in path) and not (lock.exempt_events and _exempt(path))
            for lock in self._locks
        )

    def evaluate(self, path: str, now: float) -> tuple[float, FaultAction | None]:
        """Decide the added latency (seconds) and the fault, if any, for a request to ``path`` at ``now``.

        ``now`` is monotonic seconds; :meth:`advance`'s virtual seconds are added to it.
        """
        now += self._offset
        delay_ms = self.latency_ms
        if self.locked(path, now):
            return delay_ms / 1000, FaultAction("code", RATE_LIMITED, message="App is locked: too many requests")
        if self._breaches_rate_limit(path, now):
            self._locks.append(_Lock("*", now + self.rate_limit_lock_seconds, exempt_events=True))
            return delay_ms / 1000, FaultAction("code", RATE_LIMITED, message="Request too frequent: app limit hit")
        for rule in self.rules:
            if not rule.matches(path) or not rule.fires(self._rng):
                continue
            if rule.kind == "delay":
                delay_ms += rule.delay_ms
                continue
            if rule.kind == "lock":
                self._locks.append(_Lock(rule.path, now + rule.lock_seconds, exempt_events=False))
                return delay_ms / 1000, FaultAction("code", RATE_LIMITED, message=rule.message or "App is locked")
            failed = rule.failed if rule.kind == "code" and rule.code == PARTIAL_SUCCESS else 0
            default_message = (
                "rejected by an injected partial-success fault"
                if failed
                else "Injected fault"
                if rule.kind != "code"
                else f"Injected error {rule.code}"
            )
            action = FaultAction(rule.kind, rule.code, rule.status, rule.message or default_message, failed)
            return delay_ms / 1000, action
        return delay_ms / 1000, None

    def _breaches_rate_limit(self, path: str, now: float) -> bool:
        """Count this arrival and tell whether it exceeds the per-second or per-minute limit."""
        if (self.qps is None and self.per_minute is None) or _exempt(path):
            return False
        arrivals = self._arrivals
        while arrivals and arrivals[0] <= now - 60:
            arrivals.popleft()
        arrivals.append(now)
        if self.per_minute is not None and len(arrivals) > self.per_minute:
            return True
        if self.qps is not None:
            in_last_second = sum(1 for _ in takewhile(lambda t: t > now - 1, reversed(arrivals)))
            return in_last_second > self.qps
        return False

    def to_dict(self, now: float) -> dict[str, Any]:
        """A JSON view for the control API: rules (with counts left), limits and live locks."""
        now += self._offset
        return {
            "rules": [asdict(rule) for rule in self.rules],
            "latency_ms": self.latency_ms,
            "qps": self.qps,
            "per_minute": self.per_minute,
            "rate_limit_lock_seconds": self.rate_limit_lock_seconds,
            "max_report_days": self.max_report_days,
            "locks": [
                {"path": lock.path, "seconds_left": round(lock.until - now, 3)}
                for lock in self._locks
                if lock.until > now
            ],
        }


def _exempt(path: str) -> bool:
    """Whether the app-wide rate limit leaves ``path`` alone."""
    return any(p in path for p in RATE_LIMIT_EXEMPT)
