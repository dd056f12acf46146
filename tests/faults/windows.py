"""Sliding-window request counts, for checking a client's rate at the server (pure: no Airflow, no emulator)."""

from __future__ import annotations

from collections.abc import Iterable


def max_in_window(times: Iterable[float], window: float) -> int:
    """The largest number of ``times`` (seconds, any order) inside one half-open window ``[t, t + window)``."""
    if window <= 0:
        raise ValueError("window must be positive")
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
