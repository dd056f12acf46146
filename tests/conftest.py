"""Shared fixtures: an isolated AIRFLOW_HOME, a TikTok connection from an env var, and fast retries."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator.testing import EmulatorServer

# Isolate every test process from the developer's own Airflow before anything imports Airflow.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tiktok-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

#: The throwaway PostgreSQL server fixture (``postgres_server``) for every test that needs one.
pytest_plugins = ["tests.pg_server"]

FAKE_TOKEN = "tok-7f3c9a1e2b4d6f8091a2b3c4d5e6f708"
FAKE_SECRET = "app-secret-5e6f7081a2b3c4d5"
TEST_BASE_URL = "https://tiktok.test"
#: The emulator's frozen clock in tests: 07:30 in Los Angeles, 16:30 in Berlin, 00:30 the next day in Tokyo;
#: far enough from midnight UTC that a test's calls stay on one UTC day unless it moves the clock.
EMULATOR_NOW = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)


def conn_json(host: str = TEST_BASE_URL, token: str = FAKE_TOKEN, **extra: object) -> str:
    """A ``tiktok_ads`` connection as Airflow's JSON env-var form."""
    extras = {"app_id": "7100000000000000001", "app_secret": FAKE_SECRET, "advertiser_id": "7000000000000000001"}
    extras.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps({"conn_type": "tiktok_ads", "host": host, "password": token, "extra": extras})


class FakeTaskInstance:
    """Records what an operator pushes to XCom; names its run like a real task instance."""

    def __init__(self, run_id: str = "manual__test", dag_id: str = "test_dag", task_id: str = "task") -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index = dag_id, task_id, run_id, -1
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def set_tiktok_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set ``AIRFLOW_CONN_<ID>`` for a TikTok connection (default id ``tiktok_default``)."""

    def _set(conn_id: str = "tiktok_default", **kwargs: object) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(**kwargs))

    return _set


@pytest.fixture
def tiktok_conn(set_tiktok_conn: Callable[..., None]) -> Iterator[str]:
    """A default connection to the fake base URL used with requests-mock, with a high rate limit."""
    set_tiktok_conn(rate_limit="1000")
    yield "tiktok_default"


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> str:
    """fsspec's in-memory file system registered as an ObjectStoragePath scheme (stands in for S3/GCS)."""
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    monkeypatch.setitem(fs._register_filesystems(), "memory", lambda conn_id, options=None: MemoryFileSystem())
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs[:] = [""]
    return "memory://tiktok-state/prod"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """One emulator for the whole session (per-test uvicorn starts would dominate); each folder's
    ``emulator`` fixture resets it to its seeded start."""
    with EmulatorServer(now=EMULATOR_NOW) as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh AIRFLOW_HOME for one test: default destinations, progress and state files start empty."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    return tmp_path
