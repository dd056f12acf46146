"""Start and drive a real local stack: the TikTok emulator plus ``airflow standalone`` on free ports.

Used by the demo (``scripts/demo.py``) and the end-to-end tests, so both exercise the same setup:
the example DAGs as the DAG folder, the ``tiktok_default`` connection pointing at the emulator, the
``tiktok_audience`` pool, and Airflow's REST API for unpausing, triggering and backfilling.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO / "dags_examples"
TERMINAL_RUN_STATES = {"success", "failed"}


def api_time(moment: datetime) -> str:
    """An aware datetime as the REST API's UTC ``...Z`` timestamp."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check()`` until it returns a truthy value; raise naming ``what`` on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (requests.RequestException, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def link_dags_folder(target: Path, *sources: Path) -> Path:
    """A DAG folder of symlinks to every entry of ``sources`` (DAG files and the data folders they read).

    DAG files find their data through ``Path(__file__).parent``, which is the linked folder, so data
    folders are linked too. Names must not clash between sources.
    """
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        for entry in sorted(Path(source).iterdir()):
            if entry.name.startswith((".", "_")):
                continue
            link = target / entry.name
            if link.is_symlink() or link.exists():
                raise FileExistsError(f"{link} exists: two DAG sources hold {entry.name}")
            link.symlink_to(entry.resolve())
    return target


class SchedulerStopped(RuntimeError):
    """The stack's Airflow scheduler died; runs it should schedule will never finish."""


#: An exception line (``sqlalchemy.exc.IntegrityError: ...``) or an error record in a component's output.
_ERROR_LINE = re.compile(r"\w(Error|Exception): |\[error ")


def _stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop a process started in its own session, and all its children."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    except ProcessLookupError:
        pass


class Stack:
    """The emulator and Airflow standalone, started in their own process groups and stopped cleanly."""

    def __init__(
        self,
        home: Path,
        *,
        api_port: int | None = None,
        emulator_port: int | None = None,
        extra_env: dict[str, str] | None = None,
        emulator_args: Iterable[str] = (),
        dags_folder: Path = DAGS_FOLDER,
        conn_extra: dict[str, str] | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder)
        self.api_port = api_port or free_port()
        self.emulator_port = emulator_port or free_port()
        self.extra_env = extra_env or {}
        self.emulator_args = list(emulator_args)
        self.conn_extra = conn_extra or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self._token: str | None = None
        self.session = requests.Session()

    # ------------------------------------------------------------------ lifecycle
    @property
    def api_url(self) -> str:
        return f"http://localhost:{self.api_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def env(self) -> dict[str, str]:
        """Environment for every Airflow process of this stack."""
        bin_dir = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            PATH=f"{bin_dir}:{env.get('PATH', '')}",
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__BASE_URL=self.api_url,
            # Airflow 3.0 refuses ?deserialize=true on XCom reads unless this is on (3.1+ dropped the option).
            AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT="True",
            # One API-server process: uvicorn's supervisor restarts a worker whose start-up outlasts its health
            # check, so on a loaded 2-core machine Airflow 3.0's four workers restarted forever and never served.
            AIRFLOW__API__WORKERS="1",
            # SQLite waits up to 60 s for a lock instead of 5: under load a write held longer made the API answer
            # 503 after Airflow had half-created a backfill, and the scheduler died on the rolled-back runs.
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.home / 'airflow.db'}?timeout=60",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
            TIKTOK_EMULATOR_URL=self.emulator_url,
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 240.0) -> Stack:
        """Start the emulator and Airflow; return once the API is healthy and set up."""
        self.home.mkdir(parents=True, exist_ok=True)
        logs = self.home / "logs"
        logs.mkdir(exist_ok=True)
        self.procs["emulator"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_tiktok.emulator",
                "--port",
                str(self.emulator_port),
                *self.emulator_args,
            ],
            stdout=(logs / "emulator.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        self._start_airflow()
        wait_until(
            lambda: requests.get(self.emulator_url + "/_emulator/stats", timeout=2).ok, 30, "the TikTok emulator"
        )
        self._wait_healthy(timeout)
        self.create_connection()
        self.ensure_pool("tiktok_audience", slots=1, description="Serialises TikTok audience syncs")
        return self

    def _start_airflow(self) -> None:
        """``airflow standalone`` in its own process group, appending to ``logs/standalone.out``."""
        self.procs["airflow"] = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            env=self.env(),
            stdout=(self.home / "logs" / "standalone.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )

    def _wait_healthy(self, timeout: float) -> None:
        wait_until(self._healthy, timeout, f"Airflow at {self.api_url} (see {self.home / 'logs'})", interval=1)

    def restart_airflow(self, timeout: float = 240.0) -> None:
        """Stop Airflow and start it again on the same home and metadata database (queued runs carry on):
        the way back from a dead scheduler, which ``airflow standalone`` does not restart."""
        proc = self.procs.pop("airflow")
        _stop_group(proc)
        with contextlib.suppress(ProcessLookupError):  # a dead scheduler's executor workers outlive SIGTERM
            os.killpg(proc.pid, signal.SIGKILL)
        self._token = None
        self._start_airflow()
        self._wait_healthy(timeout)

    def _healthy(self) -> bool:
        proc = self.procs["airflow"]
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {proc.returncode}; see {self.home / 'logs'}")
        answer = requests.get(self.api_url + "/api/v2/monitor/health", timeout=3)
        if not answer.ok:
            return False
        body = answer.json()
        return all(body.get(part, {}).get("status") == "healthy" for part in ("metadatabase", "scheduler"))

    def stop(self) -> None:
        """Stop Airflow then the emulator, process groups included (no orphans)."""
        for name in ("airflow", "emulator"):
            if name in self.procs:
                _stop_group(self.procs.pop(name))

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ REST API
    @property
    def admin_password(self) -> str:
        """The admin password that standalone's simple auth manager generated."""
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return wait_until(lambda: json.loads(path.read_text()).get("admin"), 60, str(path))

    def token(self) -> str:
        if self._token is None:
            answer = self.session.post(
                self.api_url + "/auth/token", json={"username": "admin", "password": self.admin_password}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, *, ok: Iterable[int] = (200, 201), **kwargs: Any) -> Any:
        """Call Airflow's REST API; retries SQLite's transient 'database is locked' (503, or a 500 "Database
        error" when the lock hits mid-request: the transaction was rolled back, so the call can be repeated)."""
        for attempt in range(10):
            answer = self.session.request(
                method,
                self.api_url + path,
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=60,
                **kwargs,
            )
            status, text = answer.status_code, answer.text.lower()
            locked = status == 503 or (status == 500 and "database error" in text)
            if not locked or attempt == 9:
                break
            time.sleep(1 + attempt)
        if answer.status_code not in set(ok):
            raise RuntimeError(f"{method} {path} -> {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    def create_connection(self) -> None:
        """``tiktok_default`` pointing at the emulator (replaced if it exists), with ``conn_extra`` added."""
        from airflow_provider_tiktok.emulator import ACCESS_TOKEN, APP_ID, APP_SECRET

        extra = {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": "7000000000000000001", **self.conn_extra}
        body = {
            "connection_id": "tiktok_default",
            "conn_type": "tiktok_ads",
            "host": self.emulator_url,
            "password": ACCESS_TOKEN,
            "extra": json.dumps(extra),
        }
        self.api("DELETE", "/api/v2/connections/tiktok_default", ok=(204, 404))
        self.api("POST", "/api/v2/connections", json=body)

    def ensure_pool(self, name: str, *, slots: int, description: str) -> None:
        body = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        if self.api("GET", f"/api/v2/pools/{name}", ok=(200, 404)).get("name") == name:
            self.api("PATCH", f"/api/v2/pools/{name}", json=body)
        else:
            self.api("POST", "/api/v2/pools", json=body)

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180.0) -> None:
        """Wait until the DAG processor has parsed every DAG in ``dag_ids``."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            errors = self.api("GET", "/api/v2/importErrors")["import_errors"]
            if errors:
                details = "; ".join(f"{e['filename']}: {e['stack_trace'].strip().splitlines()[-1]}" for e in errors)
                raise RuntimeError(f"example DAGs failed to import: {details}")
            dags = self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]
            return wanted <= {d["dag_id"] for d in dags}

        wait_until(parsed, timeout, f"DAGs {sorted(wanted)} to be parsed", interval=2)

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, logical_date: datetime | None, conf: dict | None = None) -> dict:
        when = api_time(logical_date) if logical_date is not None else None
        body = {"dag_run_id": run_id, "logical_date": when, "conf": conf or {}}
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)

    def backfill(
        self, dag_id: str, from_date: datetime, to_date: datetime, *, reprocess: str = "none", max_active_runs: int = 3
    ) -> dict:
        body = {
            "dag_id": dag_id,
            "from_date": api_time(from_date),
            "to_date": api_time(to_date),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess,
        }
        return self.api("POST", "/api/v2/backfills", json=body)

    def scheduler_problem(self) -> str | None:
        """None while the scheduler is healthy, else why not (its last error line in standalone's output)."""
        if self.procs["airflow"].poll() is not None:
            return "airflow standalone exited"
        health = self.session.get(f"{self.api_url}/api/v2/monitor/health", timeout=30).json()
        if health.get("scheduler", {}).get("status") == "healthy":
            return None
        log = (self.home / "logs" / "standalone.out").read_text(encoding="utf-8", errors="replace").splitlines()
        errors = [
            line.split("|", 1)[-1].strip() for line in log if line.startswith("scheduler") and _ERROR_LINE.search(line)
        ]
        return (errors[-1] if errors else "scheduler unhealthy, no error in its log")[:200]

    def wait_scheduled(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """``wait_until`` for work the scheduler must do: raises SchedulerStopped once the scheduler is dead
        (Airflow 3.3 on SQLite can lose it while creating a backfill's runs) instead of waiting out ``timeout``."""
        polls = itertools.count(1)

        def checked() -> Any:
            # the health endpoint turns unhealthy 30 s after the scheduler's last heartbeat
            if next(polls) % 10 == 0 and (reason := self.scheduler_problem()) is not None:
                raise SchedulerStopped(f"{reason} (log: {self.home / 'logs' / 'standalone.out'})")
            return check()

        return wait_until(checked, timeout, what, interval=2)

    def wait_until_backfill_done(self, backfill_id: int, timeout: float = 600.0) -> dict:
        """Wait until a backfill has completed (all its runs finished)."""

        def done() -> dict | None:
            backfill = self.api("GET", f"/api/v2/backfills/{backfill_id}")
            return backfill if backfill.get("completed_at") else None

        return self.wait_scheduled(done, timeout, f"backfill {backfill_id} to complete")

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 500})["dag_runs"]

    def wait_for_runs(self, dag_id: str, run_ids: Iterable[str] | None = None, timeout: float = 300.0) -> list[dict]:
        """Wait until the named runs (default: all runs of the DAG) are finished; return them."""
        wanted = set(run_ids) if run_ids is not None else None

        def finished() -> list[dict] | None:
            runs = [r for r in self.runs(dag_id) if wanted is None or r["dag_run_id"] in wanted]
            if not runs or (wanted is not None and len(runs) < len(wanted)):
                return None
            return runs if all(r["state"] in TERMINAL_RUN_STATES for r in runs) else None

        return self.wait_scheduled(finished, timeout, f"runs of {dag_id} to finish")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.api("GET", path, params={"deserialize": "true"})["value"]

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of a task instance (number, state, the pid that ran it), oldest first."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/tries"
        return sorted(self.api("GET", path)["task_instances"], key=lambda t: t["try_number"])

    # ------------------------------------------------------------------ emulator control
    def emulator(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the emulator's ``/_emulator/`` control API (faults, request log, stats, received events)."""
        answer = requests.request(method, f"{self.emulator_url}/_emulator/{path.lstrip('/')}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def emulator_requests(self, path: str | None = None, since: float | None = None) -> list[dict]:
        """The emulator's log of answered API requests (``t`` in Unix seconds), filtered by path and time."""
        params = {key: value for key, value in (("path", path), ("since", since)) if value is not None}
        return self.emulator("GET", "requests", params=params)["requests"]
