"""The multi-host limiter: GCRA with a burst of one in Redis keeps the host limiter's strict spacing for every
process of every host that shares the store."""

from __future__ import annotations

import itertools
import multiprocessing
import sys
import time

import pytest
from pyrate_limiter import GCRA, InMemoryStateStore, Rate, StateBucket

from airflow_provider_tiktok.utils.ratelimit import (
    RateLimitStoreError,
    SharedRateLimiter,
    redis_limiter,
    shared_limiter,
    spacing,
)


class MsClock:
    """A store clock in integer milliseconds whose sleeps advance it."""

    def __init__(self) -> None:
        self.now_ms = 1_000_000

    def __call__(self) -> int:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)


def in_memory_limiter(rate: float, clock: MsClock) -> SharedRateLimiter:
    interval_ms = -(-int(spacing(rate) * 1_000_000) // 1000)
    bucket = StateBucket([Rate(1, interval_ms, burst=1)], algorithm=GCRA(), store=InMemoryStateStore())
    return SharedRateLimiter(rate, bucket=bucket, clock=clock, name="app", sleep=clock.sleep)


@pytest.mark.unit
def test_gcra_with_a_burst_of_one_is_strict_spacing():
    clock = MsClock()
    limiter = in_memory_limiter(4, clock)
    starts = []
    for _ in range(9):
        limiter.acquire()
        starts.append(clock.now_ms)
    assert [b - a for a, b in itertools.pairwise(starts)] == [275] * 8  # (1 + 0.1) / 4 s, as the host limiter


@pytest.mark.unit
def test_idle_time_is_not_banked_as_a_burst():
    clock = MsClock()
    limiter = in_memory_limiter(10, clock)
    limiter.acquire()
    clock.now_ms += 60_000
    first = clock.now_ms
    limiter.acquire()
    limiter.acquire()
    assert clock.now_ms - first == 110


def _stamp_calls(url: str, key: str, rate: float, calls: int, out) -> None:
    limiter = redis_limiter(url, key, rate)
    stamps = []
    for _ in range(calls):
        limiter.acquire()
        stamps.append(time.time())
    out.put(stamps)


@pytest.mark.integration
def test_processes_sharing_one_redis_share_one_budget(redis_server):
    """Three processes stand for three hosts: nothing but the Redis URL is shared between them."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    key = f"app-{time.time_ns()}"
    procs = [ctx.Process(target=_stamp_calls, args=(redis_server.url(1), key, 20, 10, out)) for _ in "abc"]
    for proc in procs:
        proc.start()
    stamps = sorted(s for _ in procs for s in out.get(timeout=60))
    for proc in procs:
        proc.join(10)
    assert len(stamps) == 30
    # Unshared, three processes at 20/s would send 30 calls in half a second; sharing, they need 29 * 1.1 / 20 s,
    # and even a window stretched by 50 ms of arrival jitter holds no more than 20.
    assert stamps[-1] - stamps[0] >= 29 * 1.1 / 20 * 0.95
    assert max(sum(1 for s in stamps[i:] if s - start < 1.05) for i, start in enumerate(stamps)) <= 20


@pytest.mark.integration
def test_the_gcra_state_lives_in_redis_under_a_digest_and_expires(redis_server):
    import redis

    key = "https://business-api.tiktok.com|7100000000000000001"
    # a slow rate: the key lives two emission intervals (4.4 s), longer than a loaded machine's pause
    limiter = shared_limiter(key, 0.5, redis_server.url(2))
    assert isinstance(limiter, SharedRateLimiter)
    assert shared_limiter(key, 0.5, redis_server.url(2)) is limiter
    limiter.acquire()
    client = redis.Redis.from_url(redis_server.url(2))
    (name,) = client.keys("tiktok:ratelimit:*")
    assert b"tiktok.com" not in name
    assert b"7100" not in name
    assert 0 < client.pttl(name) <= 2 * 2200  # two emission intervals: no state outlives its use


@pytest.mark.integration
def test_an_unreachable_store_stops_requests_without_naming_the_uri():
    limiter = redis_limiter("redis://:s3cret@127.0.0.1:1/0", "app", 10, patience=0.0)
    with pytest.raises(RateLimitStoreError, match="rate_limit_storage") as caught:
        limiter.acquire()
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1" not in str(caught.value)


@pytest.mark.integration
def test_the_hook_draws_both_budgets_from_the_connections_storage(set_tiktok_conn, redis_server, home):
    import redis

    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    # Slow rates: a budget's key lives two emission intervals, and must outlive a loaded machine's pause.
    set_tiktok_conn(rate_limit="0.5", events_rate_limit="0.8", rate_limit_storage=redis_server.url(3))
    hook = TikTokAdsHook()
    events, marketing = hook.limiter("event/track/"), hook.limiter("advertiser/info/")
    assert isinstance(events, SharedRateLimiter)
    assert isinstance(marketing, SharedRateLimiter)
    assert (events.rate, marketing.rate) == (0.8, 0.5)
    events.acquire()
    marketing.acquire()
    assert len(redis.Redis.from_url(redis_server.url(3)).keys("tiktok:ratelimit:*")) == 2  # separate budgets
    assert not (home / "tiktok" / "ratelimit").exists()  # nothing host-local


@pytest.mark.unit
def test_a_shared_limit_without_its_packages_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrate_limiter", None)  # as if not installed
    with pytest.raises(RateLimitStoreError, match=r"pip install .airflow-provider-tiktok\[multi-host\].") as caught:
        redis_limiter("redis://:s3cret@redis:6379/1", "app", 10)
    assert "s3cret" not in str(caught.value)
