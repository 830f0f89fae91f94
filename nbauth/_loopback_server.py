"""A small HTTP server on ``127.0.0.1:<free port>``, served from a daemon thread.

Both of nbauth's servers are one: the browser sign-in's redirect listener
(`nbauth._methods._redirect_listener`) and the kernel's relay for worker grants
(`nbauth._grant_relay`). What they share is decided here once:

- loopback only, on a port the system picks, never shared with another process (no
  ``SO_REUSEADDR``);
- ``TCP_NODELAY`` on every connection: headers and body leave in two writes, and with Nagle's
  algorithm and the client's delayed ACK the second waits ~40 ms (measured: ~44 ms a request
  without it, ~1 ms with it);
- a request that fails mid-answer (a client that hung up) goes to the debug log, not to the
  kernel's stderr as socketserver's traceback;
- `close` stops it at once, from any thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LoopbackServer"]

_LOGGER = logging.getLogger("nbauth")


class LoopbackServer(ThreadingHTTPServer):
    """Serves `handler` on 127.0.0.1 from a thread called `name` until `close`.
    ``poll_interval``: how soon `close` is noticed (it is only a wakeup)."""

    daemon_threads = True
    allow_reuse_address = False  # a random port of our own; never share one

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, name: str, poll_interval: float
    ) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.closed = False
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port (waits up to 1 s for the serving thread)."""
        if self.closed:
            return
        self.closed = True
        if self._thread.is_alive():
            self.shutdown()
        self.server_close()
        if self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        _LOGGER.debug("A loopback server (%s) could not answer.", self._thread.name, exc_info=True)
