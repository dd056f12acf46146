"""One real Airflow stack (emulator + ``airflow standalone``) shared by the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.stack import DAGS_FOLDER, Stack, link_dags_folder

#: DAGs of the crash and security tests (paused until a test unpauses them; no schedule).
CRASH_DAGS = Path(__file__).parent / "crash_dags"
#: Folder under AIRFLOW_HOME holding the raw-PII inputs the tests feed to DAGs; the security scan reads
#: every CSV there for the values that must never show up in logs, XCom or state.
PII_INPUTS = "pii_inputs"


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
