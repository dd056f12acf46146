"""One real Airflow stack (emulator + ``airflow standalone``) shared by the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.stack import Stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same launcher as the demo, on free localhost ports in a temporary AIRFLOW_HOME."""
    running = Stack(tmp_path_factory.mktemp("e2e") / "airflow_home")
    try:
        running.start()
        yield running
    finally:
        running.stop()
