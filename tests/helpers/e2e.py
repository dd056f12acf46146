"""Paths the end-to-end tests share: the crash-test DAGs and the folder of raw-PII inputs under AIRFLOW_HOME."""

from __future__ import annotations

from pathlib import Path

#: DAGs of the crash and security tests (paused until a test unpauses them; no schedule).
CRASH_DAGS = Path(__file__).parents[1] / "e2e" / "crash_dags"
#: Folder under AIRFLOW_HOME holding the raw-PII inputs the tests feed to DAGs; the security scan reads
#: every CSV there for the values that must never show up in logs, XCom or state.
PII_INPUTS = "pii_inputs"
