"""Serving the app with uvicorn, exposing each connection's transport so the ``reset`` fault can drop it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

import uvicorn
from starlette.requests import Request
from uvicorn.protocols.http.auto import AutoHTTPProtocol

#: ASGI scope extension under which :class:`AbortableProtocol` puts the connection's transport.
TRANSPORT_EXTENSION = "tiktok_emulator.transport"


class AbortableProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol, handing the app the connection's transport (uvicorn does not otherwise)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Wrap the app so every request's scope carries this connection's transport."""
        super().__init__(*args, **kwargs)
        app = self.app

        async def app_with_transport(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[TRANSPORT_EXTENSION] = self.transport
            await app(scope, receive, send)

        self.app = app_with_transport


async def drop_connection(request: Request) -> None:
    """Close the client's connection at once with a TCP reset, sending nothing (the ``reset`` fault).

    Outside uvicorn with :class:`AbortableProtocol` (e.g. an in-process test client) there is no transport
    to drop, so the call fails with ``ConnectionResetError`` instead.
    """
    transport = request.scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
    if transport is None:
        raise ConnectionResetError("injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # linger 0 turns the close into a RST
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0)  # let uvicorn see the disconnect before the app returns


def uvicorn_config(app: Any, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """The uvicorn configuration shared by the CLI and :class:`~.testing.EmulatorServer`."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=AbortableProtocol,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
    )
