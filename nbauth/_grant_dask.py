"""The Dask `Engine`: a grant's tokens reach every worker of a cluster through Dask itself.

Each push registers the grant's worker plugin (`nbauth._dask_grant_plugin.GrantTokens`) again
with the notebook's ``distributed.Client``: the scheduler sends it to every worker and keeps it
for workers that join later, whoever started them (a ``LocalCluster``, ``dask scheduler`` /
``dask worker`` elsewhere). A sign-out registers it once more, carrying the reason.

distributed is imported only here, and only when a Dask client exists: ``import nbauth`` and a
notebook without Dask never pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from ._base_errors import ConfigurationError, redact
from ._grant_engine import PushedToken, Source

__all__ = ["DaskEngine", "default_dask_client"]

_RUNNING = ("running", "newly-created", "connecting")


def default_dask_client() -> Any | None:
    """The notebook's current ``distributed.Client``, or None (never imports distributed)."""
    if "distributed" not in sys.modules:
        return None  # no client can exist in a process that never imported distributed
    import distributed  # Lazy load: distributed

    find: Callable[[], Any] = distributed.default_client  # unannotated in distributed
    try:
        return find()
    except ValueError:  # "No clients found"
        return None


class DaskEngine:
    """See the module docstring. ``client``: a synchronous ``distributed.Client``."""

    def __init__(self, client: Any) -> None:
        from distributed import Client  # Lazy load: distributed

        if not isinstance(client, Client):
            raise ConfigurationError(
                f"dask_client= takes a distributed.Client, not a {type(client).__name__}."
            )
        if client.asynchronous:
            raise ConfigurationError(
                "dask_client= needs a synchronous distributed.Client (asynchronous=False): "
                "the kernel pushes tokens to its workers from a thread of its own."
            )
        if client.status not in _RUNNING:
            raise ConfigurationError(
                f"The Dask client is {client.status}: connect it (or make a new one) first."
            )
        self._client = client
        scheduler: Any = client.scheduler
        self.address = str(scheduler.address)

    @property
    def key(self) -> tuple[str, int]:
        return ("dask", id(self._client))

    def open(self, grant_id: str, scopes: tuple[str, ...]) -> Source:
        return ("dask", self.address)

    def push(self, grant_id: str, tokens: Mapping[str, PushedToken]) -> None:
        self._register(grant_id, {scope: token.wire() for scope, token in tokens.items()}, None)

    def end(self, grant_id: str, reason: str) -> None:
        self._register(grant_id, None, reason)

    def _register(
        self, grant_id: str, tokens: dict[str, tuple[str, float, float]] | None, ended: str | None
    ) -> None:
        from ._dask_grant_plugin import GrantTokens  # Lazy load: distributed

        if not self.alive():
            raise ConfigurationError(f"The Dask client of {self.address} is closed.")
        try:
            self._client.register_plugin(GrantTokens(grant_id, tokens, ended))
        except Exception as exc:  # noqa: BLE001 - a worker's error comes back as anything
            text = redact(exc).splitlines()[0][:200] if str(exc) else "no details"
            raise ConfigurationError(
                f"Could not send the tokens to the Dask cluster at {self.address} "
                f"({type(exc).__name__}: {text}). Its workers need nbauth and azure-core."
            ) from None

    def describe(self) -> str:
        return f"Dask scheduler {self.address}"

    def alive(self) -> bool:
        return self._client.status in _RUNNING
