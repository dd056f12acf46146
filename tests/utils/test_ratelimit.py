"""The shared request spacer: no one-second window ever holds more than ``rate`` calls."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from airflow_provider_tiktok.utils.ratelimit import RateLimiter, shared_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_calls_are_spaced_by_one_over_rate():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(9):
        limiter.acquire()
        starts.append(clock.now)
    gaps = [round(b - a, 9) for a, b in itertools.pairwise(starts)]
    assert gaps == [0.25] * 8


def test_idle_time_is_not_banked_as_a_burst():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 60  # a long pause
    assert limiter.acquire() == 0
    assert limiter.acquire() == pytest.approx(0.1)


def test_threads_share_one_budget_in_real_time():
    limiter = RateLimiter(50)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 30
    # Any window of 1/5 s holds at most 10 + 1 calls at 50/s (strict spacing, scheduler jitter aside).
    for i, start in enumerate(stamps):
        in_window = sum(1 for s in stamps[i:] if s - start < 0.2)
        assert in_window <= 11
    assert stamps[-1] - stamps[0] >= 29 / 50 * 0.95


def test_shared_limiter_is_one_object_per_key_and_rate():
    assert shared_limiter("a", 10) is shared_limiter("a", 10)
    assert shared_limiter("a", 10) is not shared_limiter("b", 10)


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
