"""The kernel's loopback relay: grants' tokens for processes on this machine, with no Dask.

A small HTTP server on 127.0.0.1 (`nbauth._loopback_server`: a random port, ~1 ms a request)
serves two routes:

- ``GET /token?grant=<id>&scope=<scope>`` with the grant's random secret in the
  ``X-Nbauth-Grant-Secret`` header (compared in constant time): the token the kernel last pushed
  for that grant (`RelayEngine`), as ``{access_token, expires_on, refresh_on}``. A missing or
  wrong secret is refused (401), a scope outside the grant too (403); an ended grant answers 410
  with why (the notebook signed out).
- the App Service managed-identity protocol for ``nbauth.export_identity()``
  (`nbauth._identity_export` installs the route): ``GET /identity?resource=&api-version=`` with
  ``X-IDENTITY-HEADER``, as azure-identity and msal call it.

Nothing is logged: no request line, no header. The relay stops with its session (or the process).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._grant_engine import RELAY, PushedToken, Source
from ._loopback_server import LoopbackServer
from ._worker_tokens import SECRET_HEADER, TOKEN_PATH

__all__ = ["IDENTITY_PATH", "Relay", "RelayEngine"]

IDENTITY_PATH = "/identity"
Answer = tuple[int, dict[str, Any]]


@dataclass
class _RelayGrant:
    secret: str = field(repr=False)
    scopes: tuple[str, ...]
    tokens: dict[str, PushedToken] = field(default_factory=dict, repr=False)
    ended: str | None = None


class Relay:
    """The server and what it serves; see the module docstring."""

    def __init__(self) -> None:
        self._grants: dict[str, _RelayGrant] = {}
        self.identity: Callable[[Mapping[str, list[str]], str | None], Answer] | None = None
        """The managed-identity route (`nbauth._identity_export`), or None: 404."""
        self._server = _Server(_Handler, name="nbauth-relay", poll_interval=0.2)
        self._server.relay = self
        self._server.start()

    @property
    def closed(self) -> bool:
        return self._server.closed

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def __repr__(self) -> str:
        return f"<Relay {self.url} grants={len(self._grants)}>"

    def close(self) -> None:
        self._server.close()

    # -- grants ------------------------------------------------------------------------------

    def add(self, grant_id: str, scopes: tuple[str, ...]) -> str:
        """Serve `grant_id` from now on; returns its new secret."""
        secret = secrets.token_urlsafe(32)
        self._grants[grant_id] = _RelayGrant(secret, scopes)
        return secret

    def push(self, grant_id: str, tokens: Mapping[str, PushedToken]) -> None:
        grant = self._grants.get(grant_id)
        if grant is not None and grant.ended is None:
            grant.tokens = dict(tokens)

    def end(self, grant_id: str, reason: str) -> None:
        grant = self._grants.get(grant_id)
        if grant is not None:
            grant.ended = reason
            grant.tokens = {}

    def token_answer(self, query: Mapping[str, list[str]], secret: str | None) -> Answer:
        grant = self._grants.get(_one(query, "grant") or "")
        if (
            grant is None
            or secret is None
            or not secrets.compare_digest(secret.encode(), grant.secret.encode())
        ):
            return 401, _error("unknown_grant", "This worker credential is not known here.")
        if grant.ended is not None:
            return 410, _error("ended", grant.ended)
        scope = _one(query, "scope")
        if scope not in grant.scopes:
            allowed = ", ".join(grant.scopes)
            return 403, _error("scope", f"This grant only gives tokens for {allowed}.")
        token = grant.tokens.get(scope)
        if token is None or token.expires_on <= time.time():
            return 503, _error(
                "unavailable",
                "The notebook has no valid token for this scope right now (its refresh "
                "failed?): run `%azwhoami` there.",
            )
        return 200, {
            "access_token": token.token,
            "expires_on": token.expires_on,
            "refresh_on": token.refresh_on,
        }


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values and len(values) == 1 else None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message}


class _Server(LoopbackServer):
    relay: Relay


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "nbauth-relay"
    sys_version = ""
    timeout = 10  # a client that connects and says nothing does not hold a thread for long

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        relay = self.server.relay
        if parts.path == TOKEN_PATH:
            status, body = relay.token_answer(query, self.headers.get(SECRET_HEADER))
        elif parts.path == IDENTITY_PATH and relay.identity is not None:
            status, body = relay.identity(query, self.headers.get("X-IDENTITY-HEADER"))
        else:
            status, body = 404, _error("not_found", "Nothing is served here.")
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        """Nothing is logged (see the module docstring)."""


class RelayEngine:
    """The `Engine` for processes on this machine: the relay serves what the kernel pushes."""

    def __init__(self, relay: Relay) -> None:
        self._relay = relay

    @property
    def key(self) -> str:
        return RELAY

    def open(self, grant_id: str, scopes: tuple[str, ...]) -> Source:
        return (RELAY, self._relay.url, self._relay.add(grant_id, scopes))

    def push(self, grant_id: str, tokens: Mapping[str, PushedToken]) -> None:
        self._relay.push(grant_id, tokens)

    def end(self, grant_id: str, reason: str) -> None:
        self._relay.end(grant_id, reason)

    def describe(self) -> str:
        return f"processes on this machine, through the relay at {self._relay.url[7:]}"

    def alive(self) -> bool:
        return not self._relay.closed
