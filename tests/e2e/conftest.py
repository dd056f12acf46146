"""One real Airflow stack (emulator + ``airflow standalone``) shared by the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.stack import DAGS_FOLDER, Stack, link_dags_folder
from tests.helpers.e2e import CRASH_DAGS


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same launcher as the demo, on free localhost ports in a temporary AIRFLOW_HOME; the DAG folder
    links the example DAGs (with their data) and the crash-test DAGs."""
    base = tmp_path_factory.mktemp("e2e")
    running = Stack(base / "airflow_home", dags_folder=link_dags_folder(base / "dags", DAGS_FOLDER, CRASH_DAGS))
    try:
        running.start()
        yield running
    finally:
        running.stop()
