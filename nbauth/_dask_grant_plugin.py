"""The Dask worker plugin that carries a grant's access tokens to every worker.

The kernel registers one `GrantTokens` per grant, under the grant's name, and registers it again
after each refresh: Dask sends it to every worker, and keeps the latest one for workers that join
later. Its ``setup`` puts the tokens into the worker's registry (`nbauth._worker_tokens`) and
drops its own copy; a sign-out is the same plugin carrying the reason instead of tokens.

Imported by the kernel only when it uses Dask, and by workers when they unpickle the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

from . import _worker_tokens

if TYPE_CHECKING:
    from distributed import Worker

__all__ = ["GrantTokens", "plugin_name"]


def plugin_name(grant_id: str) -> str:
    return f"nbauth-grant-{grant_id}"


class GrantTokens(WorkerPlugin):
    """Access tokens for one grant (scope -> (token, expires_on, refresh_on)), or, with
    ``ended``, why the grant ended."""

    idempotent = False  # each registration carries newer tokens: always replace

    def __init__(
        self,
        grant_id: str,
        tokens: dict[str, tuple[str, float, float]] | None,
        ended: str | None = None,
    ) -> None:
        self.name = plugin_name(grant_id)
        self.grant_id = grant_id
        self.tokens = tokens
        self.ended = ended

    def setup(self, worker: Worker) -> None:
        if self.ended is not None:
            _worker_tokens.end(self.grant_id, self.ended)
        elif self.tokens:
            _worker_tokens.install(self.grant_id, self.tokens)
        self.tokens = None  # the registry holds them now; no second copy on the worker

    def teardown(self, worker: Worker) -> None:
        # Called when the next refresh replaces this plugin: the tokens it installed stay
        # until the new ones arrive (its setup runs right after).
        pass

    def __repr__(self) -> str:
        state = f"ended={self.ended!r}" if self.ended is not None else "tokens"
        return f"<GrantTokens {self.grant_id} {state}>"
