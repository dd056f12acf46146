"""ReadAhead: results in item order whatever order the threads finish in, no more than ``ahead`` items read
beyond the consumer, and a failure handed over at its turn with every other read stopped or cancelled."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_tiktok.ad_metrics.reading import ReadAhead, ReadStopped

pytestmark = pytest.mark.unit


def test_results_come_in_item_order_although_later_items_finish_first():
    finished: list[int] = []
    lock = threading.Lock()

    def read(item: int, stop: threading.Event) -> int:
        time.sleep(0.002 * (6 - item))  # item 0 is the slowest
        with lock:
            finished.append(item)
        return item * 10

    with ReadAhead(range(6), read, readers=3) as reads:
        results = list(reads)
    assert results == [0, 10, 20, 30, 40, 50]
    assert finished != sorted(finished)  # the threads really did finish out of order


def test_no_more_than_ahead_items_are_read_beyond_the_consumer():
    started: list[int] = []

    def read(item: int, stop: threading.Event) -> int:
        started.append(item)
        return item

    with ReadAhead(range(10), read, readers=2, ahead=3) as reads:
        for item in reads:
            time.sleep(0.01)  # let the readers run as far as they are allowed
            assert max(started) <= item + 3
    assert sorted(started) == list(range(10))


def test_a_failed_read_is_raised_at_its_turn_and_stops_the_others():
    told_to_stop: list[bool] = []
    started: list[int] = []

    def read(item: int, stop: threading.Event) -> int:
        started.append(item)
        if item == 1:
            raise ValueError("window 1 failed")
        if item == 2:
            told_to_stop.append(stop.wait(5))
            raise ReadStopped("stopped")
        return item

    handed: list[int] = []
    with pytest.raises(ValueError, match="window 1 failed"), ReadAhead(range(8), read, readers=2, ahead=3) as reads:
        handed.extend(reads)
    assert handed == [0]  # nothing after the failed item is handed over
    assert told_to_stop == [True]  # the running read was told to stop, and the block waited for it
    assert max(started) <= 3  # reads still queued were cancelled, never started
    assert not [t for t in threading.enumerate() if t.name.startswith("tiktok-report")]


def test_an_error_of_the_consumer_stops_the_reads_too():
    started: list[int] = []

    def read(item: int, stop: threading.Event) -> int:
        started.append(item)
        return item

    def consume(reads: ReadAhead[int, int]) -> None:
        for item in reads:
            if item == 2:
                raise RuntimeError("the sink failed")

    with pytest.raises(RuntimeError), ReadAhead(range(100), read, readers=2) as reads:
        consume(reads)
    assert max(started) <= 2 + 3
    assert not [t for t in threading.enumerate() if t.name.startswith("tiktok-report")]


def test_readers_and_ahead_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ReadAhead([], lambda item, stop: item, readers=0)
    with pytest.raises(ValueError, match="at least 1"):
        ReadAhead([], lambda item, stop: item, ahead=0)
