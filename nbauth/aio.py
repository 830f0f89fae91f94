"""The async twin of NotebookCredential, for ``.aio`` Azure SDK clients.

Same session, same token store. A fresh token is returned without leaving the event loop;
anything that needs the network (or waits for a pending sign-in) runs in a worker thread, so
the notebook's loop never blocks and no nested event loop is needed. Concurrent calls for the
same token still share one request: the store's single-flight is thread-based.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._credential import _session_or_default, access_token, access_token_info

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

    from ._session import Session
    from ._token_store import StoredToken

__all__ = ["AsyncNotebookCredential"]


class AsyncNotebookCredential:
    """Async tokens for the account signed in in this kernel.

    In [1]: from azure.storage.blob.aio import BlobServiceClient
    In [2]: async with BlobServiceClient(url, nbauth.async_credential()) as client: ...

    ``session``: the `Session` to use (default: the kernel's).
    """

    def __init__(self, *, session: Session | None = None) -> None:
        self._session = _session_or_default(session)

    @property
    def session(self) -> Session:
        return self._session

    async def _token(
        self,
        scopes: tuple[str, ...],
        claims: str | None,
        tenant_id: str | None,
        enable_cae: bool,
    ) -> StoredToken:
        entry = self._session.peek_token(
            scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae
        )
        if entry is not None:
            return entry
        return await asyncio.to_thread(
            self._session.token,
            scopes,
            claims=claims,
            tenant_id=tenant_id,
            enable_cae=enable_cae,
        )

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """An access token for `scopes` (azure-core ``AsyncTokenCredential``)."""
        entry = await self._token(scopes, claims, tenant_id, bool(enable_cae))
        return access_token(entry)

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """An access token with its refresh time (azure-core ``AsyncSupportsTokenInfo``)."""
        options = options or {}
        entry = await self._token(
            scopes,
            options.get("claims"),
            options.get("tenant_id"),
            bool(options.get("enable_cae", False)),
        )
        return access_token_info(entry)

    async def close(self) -> None:
        """Nothing to release: the session outlives its credentials."""

    async def __aenter__(self) -> AsyncNotebookCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        account = self._session.account
        who = account.username if account is not None else None
        return f"<AsyncNotebookCredential account={who!r}>"

    def __getstate__(self) -> object:
        raise TypeError(
            "AsyncNotebookCredential cannot be pickled: it is bound to this kernel's sign-in, "
            "and tokens must not travel inside pickles."
        )
