"""Client-side request spacing shared by every thread and task process of a host, or of every host.

TikTok locks an app for about five minutes when it breaches a per-minute limit, so the client
spaces its own requests instead of discovering the limit by error. The budget belongs to the app,
not to a task: three DAGs running at once must share it. Limiters are therefore keyed by base URL
+ app. Two backends keep the same strict spacing:

- host-local (default): a thread lock plus an ``flock`` on a small file under
  ``$AIRFLOW_HOME/tiktok/ratelimit`` that stores the time of the last departure, so every process of
  the host draws from one budget;
- shared (the connection's ``rate_limit_storage``, a ``redis://`` URI): pyrate-limiter's GCRA with a
  burst of one, its state in Redis and its clock Redis's own ``TIME``, so every worker of every host
  draws from one budget and host clocks need not agree (:class:`SharedRateLimiter`).
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
from typing import TYPE_CHECKING, Protocol

from airflow_provider_tiktok.utils.storage import PRIVATE_FILE_MODE, default_root, ensure_dir

if TYPE_CHECKING:
    from pyrate_limiter import StateBucket

_STAMP = struct.Struct("<d")
#: Seconds by which a request's arrival at TikTok may lag its departure more than its neighbours' do
#: (connection set-up, the GIL while a task hashes rows: up to ~50 ms measured). Departures are spaced
#: ``(1 + ARRIVAL_JITTER) / rate`` apart, so TikTok sees at most ``rate`` arrivals in any second.
ARRIVAL_JITTER = 0.1
#: URI schemes of a shared limiter store (redis-py's ``Redis.from_url``).
SHARED_SCHEMES = ("redis", "rediss", "unix")
#: How long a shared limiter keeps trying an unreachable store before the request fails.
STORE_PATIENCE = 30.0


class Limiter(Protocol):
    """What the hook needs of a limiter: block until the next request may leave."""

    rate: float

    def acquire(self) -> float:
        """Block until the next request may leave; returns the seconds waited."""
        ...


class RateLimitStoreError(RuntimeError):
    """The shared rate-limit store stayed unreachable: requests stop rather than leave unlimited."""


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
        self.rate = rate
        self.path = path
        self._interval = spacing(rate)
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


def spacing(rate: float) -> float:
    """Seconds between departures at ``rate`` requests per second, arrival jitter included."""
    if rate <= 0:
        raise ValueError("rate must be a positive number of requests per second")
    return (1.0 + ARRIVAL_JITTER) / rate


class SharedRateLimiter:
    """Spaces calls ``(1 + ARRIVAL_JITTER) / rate`` apart across every process of every host sharing ``bucket``.

    pyrate-limiter's GCRA with a burst of one admits a call only once the previous admission is one
    emission interval old, which is strict spacing; its Redis store applies the check and the update in one
    Lua script, so racing workers cannot both pass. Each attempt is stamped with ``clock`` (Redis ``TIME``),
    so hosts whose clocks differ still space their calls as one. A refused caller sleeps the wait GCRA
    reports and tries again with a fresh stamp: a stall cannot release calls booked before it.
    """

    def __init__(
        self,
        rate: float,
        *,
        bucket: StateBucket,
        clock: Callable[[], int],
        name: str,
        sleep: Callable[[float], None] = time.sleep,
        patience: float = STORE_PATIENCE,
    ) -> None:
        self.rate = rate
        self._interval = spacing(rate)
        self._bucket = bucket
        self._clock = clock
        self._name = name
        self._sleep = sleep
        self._patience = patience
        self._lock = threading.Lock()  # the bucket records its last refusal: one put/waiting pair at a time

    def acquire(self) -> float:
        """Block until the store admits this call; returns the seconds waited."""
        started = time.monotonic()
        while (wait_ms := self._store_call(self._try_once)) is not None:
            self._sleep(min(max(wait_ms, 1), int(self._interval * 1000) + 1) / 1000)
        return time.monotonic() - started

    def _try_once(self) -> int | None:
        """One attempt stamped with the store's clock: None when admitted, else the milliseconds to wait."""
        from pyrate_limiter import RateItem

        with self._lock:
            item = RateItem(self._name, self._clock())
            if self._bucket.put(item):
                return None
            return int(self._bucket.waiting(item))  # type: ignore[arg-type]  # sync client: never awaitable

    def _store_call(self, call: Callable[[], int | None]) -> int | None:
        """``call()`` against the store, retried for ``patience`` seconds while the store is unreachable."""
        from redis.exceptions import ConnectionError as StoreDown
        from redis.exceptions import TimeoutError as StoreSlow

        deadline = time.monotonic() + self._patience
        while True:
            try:
                return call()
            except (StoreDown, StoreSlow) as error:
                if time.monotonic() >= deadline:
                    raise RateLimitStoreError(
                        f"the rate-limit store (connection field 'rate_limit_storage') was unreachable for "
                        f"{self._patience:.0f}s ({type(error).__name__}); no request leaves without it"
                    ) from None
                self._sleep(1.0)


def redis_limiter(uri: str, key: str, rate: float, *, patience: float = STORE_PATIENCE) -> SharedRateLimiter:
    """A :class:`SharedRateLimiter` for ``key`` at ``rate`` with its GCRA state and clock in the Redis at ``uri``."""
    try:
        import redis
        from pyrate_limiter import GCRA, Rate, RedisStateStore, StateBucket
    except ImportError as missing:
        raise RateLimitStoreError(
            f"connection field 'rate_limit_storage' needs the packages pyrate-limiter and redis ({missing.name} "
            "is missing): pip install 'airflow-provider-tiktok[multi-host]'"
        ) from None

    # short time-outs: a limiter must not hang a task on a dead store
    client = redis.Redis.from_url(uri, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]

    def redis_now_ms() -> int:
        seconds, micros = client.time()
        return int(seconds) * 1000 + int(micros) // 1000

    # limit 1 per interval with a burst of 1: the emission interval is the spacing itself (ms, rounded up)
    interval_ms = -(-int(spacing(rate) * 1_000_000) // 1000)
    bucket = StateBucket(
        [Rate(1, interval_ms, burst=1)], algorithm=GCRA(), store=RedisStateStore(client, f"tiktok:ratelimit:{digest}")
    )
    return SharedRateLimiter(rate, bucket=bucket, clock=redis_now_ms, name=digest, patience=patience)


_registry: dict[tuple[str, float, str], Limiter] = {}
_registry_lock = threading.Lock()


def limiter_path(key: str) -> Path:
    """The host-wide file of ``key`` under ``$AIRFLOW_HOME/tiktok/ratelimit`` (named by a digest, not the URL)."""
    return default_root("ratelimit") / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")


def shared_limiter(key: str, rate: float, storage: str | None = None) -> Limiter:
    """The limiter for ``key`` at ``rate`` requests per second: one budget for every process of the host, or with
    ``storage`` (a Redis URI) for every process of every host using that store."""
    where = storage or str(limiter_path(key))
    with _registry_lock:
        limiter = _registry.get((key, rate, where))
        if limiter is None:
            made = redis_limiter(storage, key, rate) if storage else RateLimiter(rate, path=Path(where))
            limiter = _registry[(key, rate, where)] = made
        return limiter
