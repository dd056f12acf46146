"""Shared fixtures: an isolated AIRFLOW_HOME, a TikTok connection from an env var, fast retries, the session's
emulator and PostgreSQL servers, and the check that every test carries exactly one tier marker."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.clock import EMULATOR_NOW
from tests.helpers.connections import conn_json
from tests.helpers.postgres import PostgresServer, find_bin_dir
from tests.helpers.redis import RedisServer, find_redis_server

# Isolate every test process from the developer's own Airflow before anything imports Airflow.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tiktok-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

#: The test tiers (pyproject.toml declares them): every test carries exactly one.
TIERS = ("unit", "integration", "e2e")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the collection when a test has no tier marker or more than one; runs before ``-m`` deselects, so a
    test without a tier cannot silently drop out of every tier's run."""
    wrong = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            wrong.append(f"  {item.nodeid}: {', '.join(tiers) or 'no tier marker'}")
    if wrong:
        raise pytest.UsageError(
            f"every test needs exactly one tier marker of {', '.join(TIERS)} (pytestmark = pytest.mark.<tier>); "
            f"{len(wrong)} test(s) do not:\n" + "\n".join(wrong)
        )


@pytest.fixture
def set_tiktok_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set ``AIRFLOW_CONN_<ID>`` for a TikTok connection (default id ``tiktok_default``)."""

    def _set(conn_id: str = "tiktok_default", **kwargs: object) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(**kwargs))

    return _set


@pytest.fixture
def tiktok_conn(set_tiktok_conn: Callable[..., None]) -> str:
    """A default connection to the fake base URL used with requests-mock, with a high rate limit."""
    set_tiktok_conn(rate_limit="1000")
    return "tiktok_default"


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> str:
    """fsspec's in-memory file system registered as an ObjectStoragePath scheme (stands in for S3/GCS)."""
    from fsspec.implementations.memory import MemoryFileSystem

    from tests.helpers.airflow_compat import filesystem_registry

    monkeypatch.setitem(filesystem_registry(), "memory", lambda conn_id, options=None: MemoryFileSystem())
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the test session; skipped only when the server binaries are not installed."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the test session; skipped only when ``redis-server`` is not installed."""
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server not found: apt-get install redis-server")
    with RedisServer(binary) as server:
        yield server


@pytest.fixture
def emulator(
    emulator_server: EmulatorServer, set_tiktok_conn: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> EmulatorServer:
    """The emulator back at its seeded start, ``tiktok_default`` pointing at it, the provider's clock on its
    (the audience tests' emulator; folders that need another start override ``emulator`` in their conftest)."""
    from airflow_provider_tiktok.utils import clock

    emulator_server.reset()
    monkeypatch.setattr(clock, "utcnow", emulator_server.state.now)
    set_tiktok_conn(
        host=emulator_server.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000"
    )
    return emulator_server


@pytest.fixture
def state_root(tmp_path: Path) -> Path:
    """A fresh state folder for the ledger and snapshots."""
    return tmp_path / "state"


@pytest.fixture
def make_hook(emulator: EmulatorServer) -> Callable[[], Any]:
    """A new hook on the emulator that never sleeps between retries."""
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    def make() -> TikTokAdsHook:
        hook = TikTokAdsHook()
        hook.sleep = lambda seconds: None
        return hook

    return make
