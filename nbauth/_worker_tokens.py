"""The tokens this process holds for each worker grant, and how it asks the kernel's relay.

Every process that uses a worker credential (a Dask worker, a pool process, a subprocess, the
kernel itself) keeps one registry: grant id -> scope -> `Held` token. An engine fills it
(Dask's worker plugin calls `install` on every worker; the kernel installs what it pushes in
its own process) or the credential does, from the loopback relay (`fetch`, `fetch_async`).
A sign-out arrives as `end`: the tokens go, and the reason stays for the next ``get_token``.

A relay token is re-checked with the relay after `RECHECK_S`, so that a sign-out reaches the
process in time even though nobody pushes to it. A forked child starts with an empty registry:
what its parent held was never pushed to it, and a sign-out would not reach it either.

Light on purpose (nothing of the session, msal, requests or Dask): workers import it. azure-core
is loaded with the first token.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo

__all__ = [
    "RECHECK_S",
    "SECRET_HEADER",
    "TOKEN_PATH",
    "Held",
    "end",
    "ended",
    "fetch",
    "fetch_async",
    "held_for",
    "install",
    "loopback_url",
]

RECHECK_S = 1.0
"""How long a token from the relay is used before the relay is asked again (a sign-out is seen
within this); a token pushed by an engine is used until it expires."""
TOKEN_PATH = "/token"
SECRET_HEADER = "X-Nbauth-Grant-Secret"
FETCH_TIMEOUT_S = 10.0
_MAX_ANSWER_BYTES = 64 * 1024


class Held:
    """A token as a worker holds it: both azure-core shapes, built once."""

    __slots__ = ("access_token", "expires_on", "good_until", "info")

    def __init__(
        self, access_token: AccessToken, info: AccessTokenInfo, expires_on: float, good_until: float
    ) -> None:
        self.access_token = access_token
        self.info = info
        self.expires_on = expires_on
        self.good_until = good_until
        """Until then it is handed out without a thought (the hot path)."""

    def __repr__(self) -> str:
        return f"<Held token expires_on={self.expires_on:.0f}>"


# grant id -> scope -> token. A grant's dict is never replaced, only changed in place: each
# credential keeps a reference to its own and looks tokens up there (one dict lookup).
_held: dict[str, dict[str, Held]] = {}
_ended: dict[str, str] = {}
_lock = threading.Lock()


def held_for(grant_id: str) -> dict[str, Held]:
    """The dict of `grant_id`'s tokens in this process (made empty if new)."""
    found = _held.get(grant_id)
    if found is None:
        with _lock:
            found = _held.setdefault(grant_id, {})
    return found


def install(
    grant_id: str,
    tokens: Mapping[str, tuple[str, float, float]],
    *,
    good_until: float | None = None,
) -> None:
    """Hold ``tokens`` (scope -> (token, expires_on, refresh_on)) for `grant_id`, each until it
    expires, or until ``good_until`` if sooner. Ignored once the grant has ended."""
    from ._token_values import token_values  # Lazy load: azure-core, with the first token

    held = held_for(grant_id)
    with _lock:
        if grant_id in _ended:
            return
        for scope, (token, expires_on, refresh_on) in tokens.items():
            access_token, info = token_values(token, expires_on, refresh_on)
            until = expires_on if good_until is None else min(good_until, expires_on)
            held[scope] = Held(access_token, info, expires_on, until)


def end(grant_id: str, reason: str) -> None:
    """`grant_id` has ended (the notebook signed out...): drop its tokens, keep why."""
    held = held_for(grant_id)
    with _lock:
        _ended[grant_id] = reason
        held.clear()


def ended(grant_id: str) -> str | None:
    """Why `grant_id` ended, or None."""
    return _ended.get(grant_id)


def _forget_after_fork() -> None:
    # In the child only: nothing reaches it from its parent's engine any more.
    for held in _held.values():
        held.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


# -- the relay's wire: GET /token?grant=&scope= with the grant's secret in a header -------------


def loopback_url(url: str) -> tuple[str, int]:
    """(host, port) of a relay address; refuses anything but ``http://127.0.0.1:<port>``: a
    grant's secret goes nowhere else, whatever a pickle says."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or not port:
        raise ValueError("a worker credential's relay must be at http://127.0.0.1:<port>")
    return "127.0.0.1", port


def _target(grant_id: str, scope: str) -> str:
    return f"{TOKEN_PATH}?{urlencode({'grant': grant_id, 'scope': scope})}"


def _answer(status: int, body: bytes) -> tuple[int, dict[str, Any]]:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        parsed = None
    return status, parsed if isinstance(parsed, dict) else {}


def fetch(url: str, secret: str, grant_id: str, scope: str) -> tuple[int, dict[str, Any]]:
    """Ask the relay at `url` for `scope`'s token: (HTTP status, JSON body). Raises OSError
    when nothing answers."""
    import http.client  # Lazy load: only processes that use the relay pay for it

    host, port = loopback_url(url)
    connection = http.client.HTTPConnection(host, port, timeout=FETCH_TIMEOUT_S)
    try:
        connection.request("GET", _target(grant_id, scope), headers={SECRET_HEADER: secret})
        response = connection.getresponse()
        body = response.read(_MAX_ANSWER_BYTES)
    except http.client.HTTPException as exc:
        raise OSError(f"the relay's answer was broken ({type(exc).__name__})") from None
    finally:
        connection.close()
    return _answer(response.status, body)


async def fetch_async(
    url: str, secret: str, grant_id: str, scope: str
) -> tuple[int, dict[str, Any]]:
    """`fetch` on the running event loop: it never blocks the loop nor takes its executor."""
    import asyncio

    host, port = loopback_url(url)
    request = (
        f"GET {_target(grant_id, scope)} HTTP/1.0\r\nHost: {host}:{port}\r\n"
        f"{SECRET_HEADER}: {secret}\r\n\r\n"
    ).encode("ascii")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), FETCH_TIMEOUT_S)
    try:
        writer.write(request)
        await writer.drain()
        # HTTP/1.0: the relay closes the connection after its answer.
        raw = await asyncio.wait_for(reader.read(_MAX_ANSWER_BYTES), FETCH_TIMEOUT_S)
        while raw and len(raw) < _MAX_ANSWER_BYTES:
            more = await asyncio.wait_for(reader.read(_MAX_ANSWER_BYTES), FETCH_TIMEOUT_S)
            if not more:
                break
            raw += more
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError("the relay's answer was broken (no HTTP status)")
    return _answer(int(status_line[1]), body)
