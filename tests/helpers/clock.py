"""The frozen instant the session emulator's clock starts at in tests."""

from __future__ import annotations

from datetime import datetime, timezone

#: The emulator's frozen clock in tests: 07:30 in Los Angeles, 16:30 in Berlin, 00:30 the next day in Tokyo;
#: far enough from midnight UTC that a test's calls stay on one UTC day unless it moves the clock.
EMULATOR_NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)
