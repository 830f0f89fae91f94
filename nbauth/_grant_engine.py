"""What a worker grant is made of, and the one small interface a compute engine implements.

A grant shares the notebook's access tokens for a few scopes with processes outside the kernel.
The kernel (`nbauth._grants`) refreshes the tokens ahead of expiry and hands them to an
`Engine`, which gets them to where the work runs: Dask pushes them to every worker
(`nbauth._grant_dask`); the loopback relay serves them to processes on this machine
(`nbauth._grant_relay`). Ray or Spark would be one more `Engine`; nothing else changes.

A credential carries only a `Source` to find its tokens, never a token. Light on purpose:
workers import this.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ._base_errors import ConfigurationError

__all__ = ["RELAY", "Engine", "PushedToken", "Source", "checked_grant_scopes", "scope", "where"]

RELAY = "relay"
"""The source kind whose tokens a process asks for (``("relay", url, secret)``); every other
kind (``("dask", scheduler address)``) has them pushed by its engine."""

Source = tuple[str, ...]
"""What a worker credential carries to find its tokens: ``(kind, where, ...)``."""


@dataclass(frozen=True)
class PushedToken:
    """An access token as an engine hands it on: the token and when it expires / is renewed."""

    token: str = field(repr=False)
    expires_on: float
    refresh_on: float

    def wire(self) -> tuple[str, float, float]:
        return (self.token, self.expires_on, self.refresh_on)


class Engine(Protocol):
    """Gets a grant's tokens to where the work runs. The kernel calls `open` once per grant,
    `push` after each refresh (and once at the start), `end` when the grant ends (sign-out):
    after `end`, the next ``get_token`` on every worker must raise within 2 s."""

    @property
    def key(self) -> Hashable:
        """Grants for the same account and scopes through engines of equal key are one."""
        ...

    def open(self, grant_id: str, scopes: tuple[str, ...]) -> Source: ...

    def push(self, grant_id: str, tokens: Mapping[str, PushedToken]) -> None: ...

    def end(self, grant_id: str, reason: str) -> None: ...

    def describe(self) -> str:
        """Where the tokens go, for ``%azwhoami`` (no secret)."""
        ...

    def alive(self) -> bool:
        """False once the engine can no longer reach its workers (a closed Dask client)."""
        ...


def where(source: Source) -> str:
    """The source in words, for messages and reprs: never its secret."""
    kind = source[0] if source else "?"
    place = source[1] if len(source) > 1 else "?"
    if kind == RELAY:
        return f"the notebook kernel's relay at {place.split('://', 1)[-1]}"
    if kind == "dask":
        return f"the Dask cluster at {place}"
    return f"{kind} at {place}"


# A URI with a host (``https://storage.azure.com/.default``, ``api://my-app/read``), or an
# application ID with a permission (``<guid>/.default``).
_SCOPE = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^/\s?#]+(?:/\S*)?"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}/\S+)"
)
_RESERVED = frozenset({"openid", "profile", "offline_access"})


def checked_grant_scopes(scopes: Iterable[object]) -> tuple[str, ...]:
    """`scopes` as a grant takes them (each one scope; repeats dropped), or `ConfigurationError`
    saying what a scope looks like. What was passed is shown only in part: it is not a secret,
    but a long value helps nobody."""
    out: list[str] = []
    for scope in scopes:
        if not isinstance(scope, str):
            raise ConfigurationError(
                f"Pass each scope as a string argument, e.g. nbauth.worker_credential("
                f"'https://storage.azure.com/.default'); got a {type(scope).__name__}."
            )
        if scope.strip().lower() in _RESERVED:
            raise ConfigurationError(
                f"{scope.strip()!r} is not a resource scope; a worker credential is for a "
                f"resource, such as 'https://storage.azure.com/.default'."
            )
        if not _SCOPE.fullmatch(scope):
            shown = scope if len(scope) <= 60 else scope[:57] + "..."
            raise ConfigurationError(
                f"{shown!r} is not a scope: give one scope per argument, such as "
                f"'https://storage.azure.com/.default' or 'https://management.azure.com//.default'."
            )
        if scope not in out:
            out.append(scope)
    if not out:
        raise ConfigurationError(
            "Name the scopes the workers may use, e.g. "
            "nbauth.worker_credential('https://storage.azure.com/.default')."
        )
    return tuple(out)


def scope(value: str) -> str:
    """One scope, checked: argparse's ``type=`` for ``%azlogin --export-scope`` (whose error
    then reads "invalid scope value")."""
    return checked_grant_scopes((value,))[0]
