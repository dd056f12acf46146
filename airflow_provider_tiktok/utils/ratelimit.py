"""Client-side request spacing shared by every thread and every task process of a host.

TikTok locks an app for about five minutes when it breaches a per-minute limit, so the client
spaces its own requests instead of discovering the limit by error. The budget belongs to the app,
not to a task: three DAGs running at once on one worker must share it. Limiters are therefore keyed
by base URL + app and, besides a thread lock, hold an ``flock`` on a small file under
``$AIRFLOW_HOME/tiktok/ratelimit`` that stores the time of the last departure, so every process of
the host draws from one budget. Workers on several hosts each get the full rate: give such
deployments a per-host ``rate_limit`` (the app limit divided by the number of hosts).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_provider_tiktok.utils.storage import PRIVATE_FILE_MODE, default_root, ensure_dir

_STAMP = struct.Struct("<d")
#: Seconds by which a request's arrival at TikTok may lag its departure more than its neighbours' do
#: (connection set-up, the GIL while a task hashes rows: up to ~50 ms measured). Departures are spaced
#: ``(1 + ARRIVAL_JITTER) / rate`` apart, so TikTok sees at most ``rate`` arrivals in any second.
ARRIVAL_JITTER = 0.1


class RateLimiter:
    """Spaces calls ``(1 + ARRIVAL_JITTER) / rate`` seconds apart, across threads and, with ``path``, processes.

    Strict spacing means no sliding one-second window ever holds more than ``rate`` calls, and hence no
    minute more than ``60 * rate``, even at the server, whose arrival times jitter by up to
    :data:`ARRIVAL_JITTER` (the price: about 9% under the nominal rate). Callers pass one at a time and
    each waits from the moment the previous caller actually went, so a stall (GC pause, overloaded host)
    cannot release a burst of calls whose slots were booked before it. ``path`` holds the last departure
    on the system-wide monotonic clock, so the processes sharing it space their calls as one.
    """

    def __init__(
        self,
        rate: float,
        *,
        path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be a positive number of requests per second")
        self.rate = rate
        self.path = path
        self._interval = (1.0 + ARRIVAL_JITTER) / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last: float | None = None

    def acquire(self) -> float:
        """Block until one interval after the previous caller went; returns the seconds waited."""
        with self._lock, self._host_lock() as fd:
            last = self._last if fd is None else _read_stamp(fd)
            now = self._clock()
            # A stamp from the future (a reboot reset the monotonic clock) must not stall anyone.
            wait = 0.0 if last is None or last > now else max(0.0, last + self._interval - now)
            if wait > 0:
                self._sleep(wait)
            self._last = self._clock()
            if fd is not None:
                os.pwrite(fd, _STAMP.pack(self._last), 0)
        return wait

    @contextmanager
    def _host_lock(self) -> Iterator[int | None]:
        """The limiter file, opened and exclusively locked for one departure (None without a path).

        Opened per call rather than kept open: a forked task process must not share its parent's lock.
        """
        if self.path is None:
            yield None
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        except FileNotFoundError:  # the first call under a fresh AIRFLOW_HOME: create the folder once
            ensure_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # also releases the flock


def _read_stamp(fd: int) -> float | None:
    """The last departure stored in the limiter file, None when the file is new."""
    raw = os.pread(fd, _STAMP.size, 0)
    return _STAMP.unpack(raw)[0] if len(raw) == _STAMP.size else None


_registry: dict[tuple[str, float, Path], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_path(key: str) -> Path:
    """The host-wide file of ``key`` under ``$AIRFLOW_HOME/tiktok/ratelimit`` (named by a digest, not the URL)."""
    return default_root("ratelimit") / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")


def shared_limiter(key: str, rate: float) -> RateLimiter:
    """The limiter for ``key`` at ``rate`` requests per second, shared by the threads and processes of the host."""
    path = limiter_path(key)
    with _registry_lock:
        limiter = _registry.get((key, rate, path))
        if limiter is None:
            limiter = _registry[(key, rate, path)] = RateLimiter(rate, path=path)
        return limiter
