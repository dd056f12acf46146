"""The provider's one clock: every "now" comes from here, so tests can follow an emulator's clock."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current instant in UTC."""
    return datetime.now(timezone.utc)
