"""A multi-host Airflow, started natively: CeleryExecutor with two workers standing for two hosts.

Redis (broker, and the provider's shared rate limit) and PostgreSQL (metadata database and Celery result
backend) are started by the caller; this launcher runs ``airflow db migrate``, then the API server,
scheduler, DAG processor and triggerer on a control home, and one ``airflow celery worker`` per entry of
``workers``, each with its own ``AIRFLOW_HOME`` (its own logs, pid file and ``$AIRFLOW_HOME/tiktok``
folders: nothing host-local is shared by accident), its own Celery hostname, log-server port and
reported host name. The DAG folder and the configuration (environment) are the same for all, as a
deployment shares them.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests

from scripts.stack import REPO, Stack, _stop_group, free_port

#: The Airflow components of the control host, in start order.
CONTROL = ("api-server", "scheduler", "dag-processor", "triggerer")
#: ``core.hostname_callable`` of every component: the host name each process reports is its ``TIKTOK_STACK_HOST``.
HOSTNAME_CALLABLE = "tests.helpers.hostname.stack_host"


class CeleryStack(Stack):
    """The emulator plus Airflow's control components and Celery workers, each in its own process group.

    :param home: the control host's ``AIRFLOW_HOME``; workers get ``<home>/../<worker>``.
    :param metadata_url: SQLAlchemy URL of the PostgreSQL metadata database.
    :param broker_url: ``redis://`` URL of the Celery broker.
    :param workers: the workers' names (each a host): ``host1`` -> ``--celery-hostname host1@tiktok``.
    :param concurrency: task slots per worker.
    """

    def __init__(
        self,
        home: Path,
        *,
        metadata_url: str,
        broker_url: str,
        workers: Iterable[str] = ("host1", "host2"),
        concurrency: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(home, **kwargs)
        self.metadata_url = metadata_url
        self.broker_url = broker_url
        self.workers = list(workers)
        self.concurrency = concurrency
        self._ports = {"worker_logs": str(free_port()), "trigger_logs": str(free_port())}
        self._secrets = {
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        }

    def worker_home(self, worker: str) -> Path:
        """The ``AIRFLOW_HOME`` of one worker host."""
        return self.home.parent / worker

    def env(self) -> dict[str, str]:
        """The deployment's shared configuration (every component gets it)."""
        env = super().env()
        result_backend = "db+" + self.metadata_url.replace("postgresql+psycopg2://", "postgresql://")
        env.update(
            self._secrets,
            PYTHONPATH=f"{REPO}:{env.get('PYTHONPATH', '')}".rstrip(":"),
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CORE__HOSTNAME_CALLABLE=HOSTNAME_CALLABLE,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.api_url}/execution/",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.metadata_url,
            AIRFLOW__CELERY__BROKER_URL=self.broker_url,
            AIRFLOW__CELERY__RESULT_BACKEND=result_backend,
            AIRFLOW__CELERY__WORKER_CONCURRENCY=str(self.concurrency),
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            AIRFLOW__API__WORKERS="1",
            # ports of their own: another Airflow (e.g. the standalone e2e stack) may run on this machine
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=self._ports["worker_logs"],
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=self._ports["trigger_logs"],
            TIKTOK_STACK_HOST="control",
        )
        env.update(self.extra_env)
        return env

    def _component_env(self, worker: str | None) -> dict[str, str]:
        """The shared configuration, and for a worker host its own home, host name and log-server port."""
        env = self.env()
        if worker is not None:
            env.update(
                AIRFLOW_HOME=str(self.worker_home(worker)),
                TIKTOK_STACK_HOST=worker,
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            )
        return env

    def _spawn(self, name: str, command: list[str], worker: str | None = None) -> None:
        home = self.worker_home(worker) if worker else self.home
        (home / "logs").mkdir(parents=True, exist_ok=True)
        self.procs[name] = subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), *command],
            env=self._component_env(worker),
            stdout=(self.home / "logs" / f"{name}.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home,
        )

    def _start_airflow(self) -> None:
        """Migrate the metadata database, then start the control components and one worker per host."""
        migrate = subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=self.home,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {migrate.stderr[-2000:]}")
        self._spawn("api-server", ["api-server", "--port", str(self.api_port)])
        for component in CONTROL[1:]:
            self._spawn(component, [component])
        for worker in self.workers:
            command = [
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}@tiktok",
                "--concurrency",
                str(self.concurrency),
            ]
            self._spawn(worker, command, worker)

    def _healthy(self) -> bool:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.home / 'logs' / name}.out")
        answer = requests.get(self.api_url + "/api/v2/monitor/health", timeout=3)
        if not answer.ok:
            return False
        body = answer.json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all(body.get(part, {}).get("status") == "healthy" for part in parts) and self.workers_ready()

    def workers_ready(self) -> bool:
        """Whether every worker answers a Celery ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            answers = app.control.ping(timeout=2.0) or []
        finally:
            app.close()
        return {name for answer in answers for name in answer} >= {f"{worker}@tiktok" for worker in self.workers}

    def scheduler_problem(self) -> str | None:
        """None while the scheduler runs and is healthy, else why not."""
        if self.procs["scheduler"].poll() is not None:
            return "the scheduler exited"
        health = self.session.get(f"{self.api_url}/api/v2/monitor/health", timeout=30).json()
        return None if health.get("scheduler", {}).get("status") == "healthy" else "scheduler unhealthy"

    def stop(self) -> None:
        """Stop workers, control components and the emulator, newest first (process groups included)."""
        for name in reversed(list(self.procs)):
            _stop_group(self.procs.pop(name))


def _fernet_key() -> str:
    """A fresh Fernet key shared by every component (connections are stored encrypted)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
