"""``EmulatorServer``: the emulator on a free local port in a background thread, for tests and demos.

with EmulatorServer() as server:
    requests.get(f"{server.url}/open_api/v1.3/advertiser/info/", ...)
    server.state.revoke_token()  # drive the live state directly
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import date, datetime
from types import TracebackType

import uvicorn

from airflow_provider_tiktok.emulator import DEFAULT_SEED
from airflow_provider_tiktok.emulator.app import create_app
from airflow_provider_tiktok.emulator.server import uvicorn_config
from airflow_provider_tiktok.emulator.state import EmulatorState

START_TIMEOUT_SECONDS = 10.0


class EmulatorServer:
    """Run the emulator with uvicorn on ``127.0.0.1`` (a free port) until stopped; a context manager."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        *,
        seed: int = DEFAULT_SEED,
        now: datetime | None = None,
        anchor: date | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """Serve ``state``, or a new state built from ``seed``, ``now`` (freezes the clock) and ``anchor``."""
        self.state = state or EmulatorState(seed, now=now, anchor=anchor)
        self.host = host
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (API paths start with ``/open_api/v1.3/``)."""
        if not self.port:
            raise RuntimeError("the emulator server is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind a free port, start uvicorn in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the emulator server is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(create_app(self.state), self.host, self.port))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="tiktok-emulator", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for its thread and release the port."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = 0

    def reset(self) -> None:
        """Back to the seeded start: clock, tokens, audiences, events, counters and faults."""
        self.state.reset()

    def __enter__(self) -> EmulatorServer:
        """Start on entry."""
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Stop on exit, whatever happened inside."""
        self.stop()
