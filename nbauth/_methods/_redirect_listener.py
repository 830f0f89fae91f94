"""A one-shot loopback HTTP listener for the browser sign-in's redirect.

Entra sends the authorization response to ``http://localhost:<port>``: a form POST
(``response_mode=form_post``, what nbauth asks for) or a query string. This listener binds
127.0.0.1 on a free port, accepts the first response whose ``state`` matches, and can be closed
at any moment, which is what makes a browser sign-in cancellable (msal's own listener in
``acquire_token_interactive`` can only time out).
"""

from __future__ import annotations

import html
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from .._loopback_server import LoopbackServer

__all__ = ["RedirectListener"]

_LOGGER = logging.getLogger("nbauth")

# Bodies are a handful of short fields; anything larger is not an authorization response.
_MAX_BODY = 64 * 1024

_DONE_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>nbauth</title></head>"
    "<body style='font-family:sans-serif;margin:3em'><h1>{title}</h1><p>{text}</p>"
    "</body></html>"
)


class RedirectListener:
    """Listens on ``127.0.0.1:<free port>`` until an authorization response with ``state``
    arrives or `close` is called. ``redirect_uri`` is what to register with Entra."""

    def __init__(self, state: str) -> None:
        self._state = state
        self._response: dict[str, str] | None = None
        self._done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                fields = _fields(parse_qs(urlsplit(self.path).query))
                listener._handle(self, fields)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._reply(413, "Too large", "This is not a sign-in response.")
                    return
                body = self.rfile.read(length).decode("utf-8", "replace")
                listener._handle(self, _fields(parse_qs(body)))

            def _reply(self, status: int, title: str, text: str) -> None:
                page = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text))
                data = page.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                # The default writes the request line, with the code in it, to stderr.
                pass

        # close() waits for the loop to notice; keep that short (it is only a wakeup).
        self._server = LoopbackServer(Handler, name="nbauth-browser-redirect", poll_interval=0.05)
        self.port = self._server.port
        self.redirect_uri = f"http://localhost:{self.port}"
        self._server.start()

    @staticmethod
    def new_state() -> str:
        return secrets.token_urlsafe(24)

    def _handle(self, handler: BaseHTTPRequestHandler, fields: dict[str, str]) -> None:
        reply = handler._reply  # type: ignore[attr-defined]
        if "code" not in fields and "error" not in fields:
            reply(400, "Waiting for the sign-in", "This page is not a sign-in response.")
            return
        if not secrets.compare_digest(fields.get("state", ""), self._state):
            # A stale tab or a forged request; keep waiting for the real answer.
            _LOGGER.debug("browser sign-in: ignored a response with another state")
            reply(400, "Not this sign-in", "This response belongs to another sign-in.")
            return
        if "code" in fields:
            reply(200, "Signed in", "You can close this tab and go back to the notebook.")
        else:
            reply(200, "Sign-in not completed", "Go back to the notebook to see why.")
        if self._response is None:
            self._response = fields
            self._done.set()

    def wait(self, timeout: float | None = None) -> dict[str, str] | None:
        """The authorization response, or None if closed (or `timeout` passed) first."""
        self._done.wait(timeout)
        return self._response

    def close(self) -> None:
        """Stop listening; a waiting `wait` returns None at once."""
        self._done.set()
        self._server.close()

    def __repr__(self) -> str:
        return f"<RedirectListener {self.redirect_uri}>"


def _fields(parsed: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[0] for key, values in parsed.items() if values}
