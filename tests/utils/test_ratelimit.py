"""The shared request spacer: no one-second window ever holds more than ``rate`` calls."""

from __future__ import annotations

import itertools
import multiprocessing
import stat
import struct
import threading
import time

import pytest

from airflow_provider_tiktok.utils.ratelimit import RateLimiter, limiter_path, shared_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.unit
def test_calls_are_spaced_by_one_over_rate_plus_the_arrival_jitter_margin():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(9):
        limiter.acquire()
        starts.append(clock.now)
    gaps = [round(b - a, 9) for a, b in itertools.pairwise(starts)]
    assert gaps == [0.275] * 8  # (1 + 0.1) / 4


@pytest.mark.unit
def test_idle_time_is_not_banked_as_a_burst():
    clock = FakeClock()
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 60  # a long pause
    assert limiter.acquire() == 0
    assert limiter.acquire() == pytest.approx(0.11)


@pytest.mark.unit
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
    assert stamps[-1] - stamps[0] >= 29 * 1.1 / 50 * 0.95


def _stamp_calls(path, rate: float, calls: int, out) -> None:
    limiter = RateLimiter(rate, path=path)
    stamps = []
    for _ in range(calls):
        limiter.acquire()
        stamps.append(time.monotonic())
    out.put(stamps)


@pytest.mark.integration
def test_processes_sharing_the_file_share_one_budget(tmp_path):
    path = tmp_path / "limits" / "app.lock"
    out = multiprocessing.get_context("fork").Queue()
    procs = [multiprocessing.get_context("fork").Process(target=_stamp_calls, args=(path, 20, 10, out)) for _ in "abc"]
    for proc in procs:
        proc.start()
    stamps = sorted(s for _ in procs for s in out.get(timeout=30))
    for proc in procs:
        proc.join(10)
    assert len(stamps) == 30
    # Three processes at 20/s each would send 30 calls within half a second; sharing, they need 29 * 1.1 / 20 s,
    # and even a window stretched by 50 ms of arrival jitter holds no more than 20.
    assert stamps[-1] - stamps[0] >= 29 * 1.1 / 20 * 0.95
    assert max(sum(1 for s in stamps[i:] if s - start < 1.05) for i, start in enumerate(stamps)) <= 20
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.unit
def test_a_stamp_from_before_a_reboot_does_not_stall(tmp_path):
    path = tmp_path / "app.lock"
    path.write_bytes(struct.pack("<d", time.monotonic() + 3600))
    assert RateLimiter(1, path=path).acquire() == 0


@pytest.mark.unit
def test_the_limiter_file_lives_under_airflow_home_named_by_a_digest(home):
    path = limiter_path("https://business-api.tiktok.com|7100000000000000001")
    assert path.parent == home / "tiktok" / "ratelimit"
    assert "tiktok.com" not in path.name
    assert "7100" not in path.name


@pytest.mark.unit
def test_shared_limiter_is_one_object_per_key_and_rate():
    assert shared_limiter("a", 10) is shared_limiter("a", 10)
    assert shared_limiter("a", 10) is not shared_limiter("b", 10)


@pytest.mark.unit
def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
