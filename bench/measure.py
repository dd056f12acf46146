"""Memory readings from ``/proc`` shared by the benchmarks: a process's peak and current resident set size."""

from __future__ import annotations

import resource


def _status_mb(field: str, pid: int | str) -> float | None:
    """A ``kB`` field of ``/proc/<pid>/status`` in MB, None where /proc cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size in MB: ``VmHWM``, which belongs to the process image (``ru_maxrss`` would carry a
    parent's peak across fork and exec); ``ru_maxrss`` where /proc is missing."""
    value = _status_mb("VmHWM", pid)
    if value is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return value


def rss_mb(pid: int | str = "self") -> float:
    """Current resident set size in MB (0 when the process is gone)."""
    return _status_mb("VmRSS", pid) or 0.0
