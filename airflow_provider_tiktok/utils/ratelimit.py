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
    hence no minute more than ``60 * rate``.
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
        self._next_slot = 0.0

    def acquire(self) -> float:
        """Block until this caller's slot comes; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
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
