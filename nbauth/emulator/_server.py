"""Run the emulator's ASGI apps with uvicorn on loopback, in one background thread and loop.

Two details matter for clients:

- Listening sockets are created with ``IPPROTO_TCP`` so asyncio turns on TCP_NODELAY; without it
  every loopback request costs ~44 ms (Nagle + delayed ACK).
- ``drop`` faults must look like a dead peer, not like a 500. uvicorn answers 500 when the app
  fails before responding, so the connection's transport is remembered per client address and
  aborted instead.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Scope
from uvicorn.protocols.http.h11_impl import H11Protocol

_Address = tuple[str, int | None]
# (client address, server address) -> transport, for every open connection of every emulator in
# this process. Each transport is only ever touched from its own server thread's loop.
_CONNECTIONS: dict[tuple[_Address | None, _Address | None], asyncio.Transport] = {}
_CONNECTIONS_LOCK = threading.Lock()


class _TrackedH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.client and self.server:
            with _CONNECTIONS_LOCK:
                _CONNECTIONS[(self.client, self.server)] = transport

    def connection_lost(self, exc: Exception | None) -> None:
        key = (self.client, self.server)
        with _CONNECTIONS_LOCK:
            if _CONNECTIONS.get(key) is self.transport:
                del _CONNECTIONS[key]
        super().connection_lost(exc)


async def drop_connection(scope: Scope) -> None:
    """Close the request's connection without a response (the client sees a connection error)."""
    client, server = scope.get("client"), scope.get("server")
    with _CONNECTIONS_LOCK:
        transport = _CONNECTIONS.get((tuple(client), tuple(server))) if client and server else None
    if transport is not None:
        transport.abort()
    # Let connection_lost run so uvicorn marks the cycle disconnected and does not try a 500.
    for _ in range(5):
        await asyncio.sleep(0)


def _abort_connections(ports: set[int]) -> None:
    """Abort keep-alive connections still open at shutdown.

    A TLS transport's close() waits for the peer's close_notify, which an idle client never sends,
    so a graceful shutdown would stall (and log an error) for every pooled client connection.
    """
    with _CONNECTIONS_LOCK:
        doomed = [t for (_, server), t in _CONNECTIONS.items() if server and server[1] in ports]
    for transport in doomed:
        transport.abort()


def loopback_socket(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"Cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another port or 0 for a free one."
        ) from exc
    sock.listen(128)
    return sock


@dataclass
class ServedApp:
    app: ASGIApp
    sock: socket.socket
    certfile: str | None = None
    keyfile: str | None = None


class ServerThread:
    """Serves several apps from one daemon thread; ``start`` returns once all of them listen."""

    def __init__(self, apps: list[ServedApp]) -> None:
        self._apps = apps
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ports = {served.sock.getsockname()[1] for served in apps}

    def start(self, timeout: float = 30.0) -> None:
        for served in self._apps:
            config = uvicorn.Config(
                served.app,
                http=_TrackedH11Protocol,
                ws="none",
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,
                ssl_certfile=served.certfile,
                ssl_keyfile=served.keyfile,
                timeout_graceful_shutdown=2,
            )
            self._servers.append(uvicorn.Server(config))
        self._thread = threading.Thread(target=self._run, name="nbauth-emulator", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            self.stop()
            raise RuntimeError("The emulator's servers did not start in time.")
        if self._error is not None:
            self.stop()
            raise RuntimeError(
                f"The emulator's servers failed to start: {self._error}"
            ) from self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._serve_all())
        except BaseException as exc:  # reported to start(); a thread has nobody else to tell
            self._error = exc
            self._started.set()

    async def _serve_all(self) -> None:
        self._loop = asyncio.get_running_loop()
        tasks = [
            asyncio.create_task(server.serve(sockets=[served.sock]))
            for server, served in zip(self._servers, self._apps, strict=True)
        ]
        while not all(s.started for s in self._servers):
            done = [t for t in tasks if t.done()]
            if done:  # a server gave up during startup
                done[0].result()
                raise RuntimeError("a server stopped during startup")
            await asyncio.sleep(0.005)
        self._started.set()
        await asyncio.gather(*tasks)

    def stop(self, timeout: float = 10.0) -> None:
        for server in self._servers:
            server.should_exit = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            ports = self._ports
            # After uvicorn's own 0.1 s grace for in-flight responses.
            try:
                loop.call_soon_threadsafe(loop.call_later, 0.25, _abort_connections, ports)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(timeout)
        for served in self._apps:
            served.sock.close()
