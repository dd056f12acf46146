"""The per-audience file lock: an exclusive ``fcntl.flock``, polled until a timeout (local state roots only)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def flock(path: Path, timeout: float, sleep: Callable[[float], None], holder: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created owner-only), polling while another process holds it.

    The kernel releases the lock when the descriptor closes or the process dies. Raises ``TimeoutError``
    naming ``holder`` after ``timeout`` seconds.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"Another sync of {holder} held its lock for over {timeout:.0f}s") from None
                sleep(0.05)  # another sync of this audience holds the lock: poll it
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
