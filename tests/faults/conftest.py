"""Fault-matrix fixtures: the session emulator reset for each case with a connection to it, a virtual sleep
that ends the emulator's locks without real waiting (the fault table and the checks are in tests.helpers.faults)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.utils import clock
from tests.helpers.faults import FaultEnv, VirtualSleep


@pytest.fixture
def env(
    emulator_server: EmulatorServer, home: Path, set_tiktok_conn: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultEnv]:
    """The emulator at its seeded start, ``tiktok_default`` on it, the operators' clocks on the emulator's."""
    emulator_server.reset()
    monkeypatch.setattr(clock, "utcnow", emulator_server.state.now)
    case = FaultEnv(emulator_server, home, set_tiktok_conn, VirtualSleep(emulator_server.state))
    case.connect()
    yield case
    emulator_server.reset()
