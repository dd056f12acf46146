"""Bad-input corpus fixtures: the emulator with every operator's clock on it, and one runner that feeds a case to
its operator and gathers everything a user could see (exception, logs, XCom, written files)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.utils import clock
from tests.helpers.airflow_context import FakeTaskInstance
from tests.helpers.bad_inputs import RUN_ID, SQL_CONN_ID, Outcome, case_operator, case_source, sql_parts


@pytest.fixture
def emulator(
    emulator_server: EmulatorServer, set_tiktok_conn: Callable[..., None], monkeypatch: pytest.MonkeyPatch, home: Path
) -> EmulatorServer:
    """The emulator at its seeded start, ``tiktok_default`` pointing at it, the operators' clocks at its time."""
    emulator_server.reset()
    set_tiktok_conn(
        host=emulator_server.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="1000"
    )
    monkeypatch.setattr(clock, "utcnow", emulator_server.state.now)
    return emulator_server


@pytest.fixture
def sql_conn(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Create a corpus ``.sql`` file's table in the test PostgreSQL server; returns its query."""

    def setup(name: str) -> str:
        """Drop and create the file's table, point the Airflow connection at the server, return the query."""
        import psycopg2

        server = request.getfixturevalue("postgres_server")
        monkeypatch.setenv(f"AIRFLOW_CONN_{SQL_CONN_ID.upper()}", server.airflow_conn_json())
        table, statements, query = sql_parts(name)
        with psycopg2.connect(server.dsn) as conn, conn.cursor() as cursor:
            cursor.execute(f"drop table if exists {table}")
            cursor.execute(statements)
        return query

    return setup


@pytest.fixture
def run_case(
    emulator: EmulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
    sql_conn: Callable[[str], str],
    home: Path,
    request: pytest.FixtureRequest,
) -> Callable[[dict[str, Any], str], Outcome]:
    """Feed one case to its operator (logs captured at DEBUG) and return what happened."""
    caplog.set_level(logging.DEBUG)

    def run(case: dict[str, Any], feed: str) -> Outcome:
        """Build the operator with the case's arguments and input, execute it, keep what it left."""
        kwargs = dict(case["kwargs"])
        if feed.startswith("memory"):
            request.getfixturevalue("memory_store")  # the object store the memory feeds write to
        source = case_source(case, feed, tmp_path_factory.mktemp("input"))
        if "sql" in case:
            kwargs.update(sql=sql_conn(case["sql"]), sql_conn_id=SQL_CONN_ID)
        outcome = Outcome()
        try:
            outcome.operator = case_operator(case["operator"], source, kwargs, case["id"], home, emulator)
            ti = FakeTaskInstance(RUN_ID, dag_id="bad_inputs", task_id=case["operator"])
            outcome.xcom = ti.xcom
            outcome.summary = outcome.operator.execute({"ti": ti, "run_id": RUN_ID})
        except Exception as exc:  # the outcome under test
            outcome.error = exc
        return outcome

    return run
