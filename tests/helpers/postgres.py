"""A throwaway PostgreSQL server for tests: Debian's ``initdb`` + ``pg_ctl`` in a temp dir, on a free
127.0.0.1 port, trusted local login, stopped and deleted at the end.

Use the ``postgres_server`` fixture (tests/conftest.py) or ``PostgresServer`` as a context manager.
As root the cluster runs as the ``postgres`` system user (PostgreSQL refuses to run as root). Tests skip
only when the server binaries are missing (``apt-get install postgresql``, as ``scripts/system_deps.sh``
does).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "tiktok"
DATABASE = "postgres"
#: The system account the server runs as when the tests run as root.
SYSTEM_USER = "postgres"


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl (else one on PATH)."""
    found = [
        Path(path).parent
        for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")
        if Path(path).with_name("pg_ctl").exists()
    ]
    if found:
        return max(found, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster for the life of the context."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root: Path | None = None

    @property
    def dsn(self) -> str:
        """A libpq URI for the trusted superuser ``tiktok`` on database ``postgres``."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def airflow_conn_json(self) -> str:
        """The server as an Airflow ``postgres`` connection (the ``AIRFLOW_CONN_<ID>`` JSON form)."""
        return json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": self.port, "login": USER, "schema": DATABASE}
        )

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            log = (self.root / "server.log") if self.root else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def start(self) -> PostgresServer:
        """initdb into a temp dir and start the server on a free port (waits until it accepts connections)."""
        self.root = Path(tempfile.mkdtemp(prefix="tiktok-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        self.port = _free_port()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-o", options, "-w", "-t", "30", "start"
        )
        return self

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        if self.root is None:
            return
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
