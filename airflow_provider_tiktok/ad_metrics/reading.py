"""Report windows read ahead by a few threads and handed over in window order, so the network keeps busy while
the previous window is parsed and written, and the output stays exactly that of a one-by-one import.

The work is network-bound and the hook's rate limiter spaces every departure across threads, so the threads
only fill the gaps between one answer and the next call; they never add calls or raise the request rate.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from types import TracebackType
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Windows read at once: one, so exactly one request is in flight, as in a one-by-one import, while the
#: windows already read are parsed and written. Two would only help when answers take longer than the rate
#: limiter's interval (1.1 / rate), and measured against the emulator on a busy 2-core host they were slower
#: and let its arrival count see 11 requests within 1.02 s (TikTok's 10 a second is a 5-minute lock).
READERS = 1


class ReadStopped(Exception):
    """A read gave up because the import stopped (another window failed, or writing did)."""


class ReadAhead(Generic[Item, Result]):
    """``read(item, stop)`` for each item in ``readers`` threads, at most ``ahead`` items (default one more than
    the readers, so a reader never idles while the consumer works; it bounds memory) ahead of the consumer; results
    come out in item order. Leaving the ``with`` block (an error, or the end) cancels the reads not started,
    sets ``stop`` for those running (a read checks it between calls) and waits for them, so no thread outlives
    the block and nothing read after a failure is ever handed over."""

    def __init__(
        self,
        items: Iterable[Item],
        read: Callable[[Item, threading.Event], Result],
        *,
        readers: int = READERS,
        ahead: int | None = None,
    ) -> None:
        ahead = readers + 1 if ahead is None else ahead
        if readers < 1 or ahead < 1:
            raise ValueError("readers and ahead must be at least 1")
        self.stop = threading.Event()
        self._items = iter(items)
        self._read = read
        self._ahead = ahead
        self._pool = ThreadPoolExecutor(readers, thread_name_prefix="tiktok-report")
        self._pending: deque[Future[Result]] = deque()

    def __enter__(self) -> ReadAhead[Item, Result]:
        self._submit(self._ahead)
        return self

    def __iter__(self) -> Iterator[Result]:
        """Each item's result in order; a read's error is raised when its turn comes."""
        while self._pending:
            result = self._pending.popleft().result()
            self._submit(1)
            yield result

    def _submit(self, count: int) -> None:
        for item in islice(self._items, count):
            self._pending.append(self._pool.submit(self._read, item, self.stop))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
