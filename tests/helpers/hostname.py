"""``core.hostname_callable`` of the multi-host test stack: each process reports the host it stands for."""

from __future__ import annotations

import os
import socket


def stack_host() -> str:
    """``$TIKTOK_STACK_HOST`` (``host1``, ``host2``, ``control``), else the real host name."""
    return os.environ.get("TIKTOK_STACK_HOST") or socket.getfqdn()
