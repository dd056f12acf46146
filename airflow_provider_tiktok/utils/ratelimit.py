"""Client-side request spacing shared by every thread of the process.

TikTok locks an app for about five minutes when it breaches a per-minute limit, so the client
spaces its own requests instead of discovering the limit by error. Limiters are shared per key
(base URL + app), so every hook instance of a worker process draws from one budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Spaces calls at least ``1 / rate`` seconds apart, across threads (no burst).

    Strict spacing means no sliding one-second window ever holds more than ``rate`` calls, and
    hence no minute more than ``60 * rate``. Callers pass one at a time and each waits from the moment the
    previous caller actually went, so a stall (GC pause, overloaded host) cannot release a burst of calls
    whose slots were booked before it.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be a positive number of requests per second")
        self.rate = rate
        self._interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: float | None = None

    def acquire(self) -> float:
        """Block until ``1 / rate`` seconds after the previous caller went; returns the seconds waited."""
        with self._lock:
            wait = 0.0 if self._last is None else max(0.0, self._last + self._interval - self._clock())
            if wait > 0:
                self._sleep(wait)
            self._last = self._clock()
        return wait


_registry: dict[tuple[str, float], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(key: str, rate: float) -> RateLimiter:
    """The process-wide limiter for ``key`` at ``rate`` requests per second."""
    with _registry_lock:
        limiter = _registry.get((key, rate))
        if limiter is None:
            limiter = _registry[(key, rate)] = RateLimiter(rate)
        return limiter
