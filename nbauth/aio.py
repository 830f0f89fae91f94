"""The async twin of NotebookCredential, for ``.aio`` Azure SDK clients.

Same session, same token store. A fresh token is returned without leaving the event loop.
Anything that needs the network runs in the token store's own thread (one per acquisition, shared
by every caller, sync or async); waiting for it, or for a pending sign-in, parks on a
done-callback. So the notebook's loop never blocks, no nested event loop is needed, nbauth never
occupies the loop's default executor (aiohttp needs it for getaddrinfo), and a cancelled await
(``asyncio.wait_for`` timing out) holds nothing afterwards.

One difference from the sync credential: no inline re-prompt. A card waiting for a person cannot
run inside the event loop; `AuthenticationRequired` names ``%azlogin`` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._credential import access_token, access_token_info
from ._flight import until_done
from ._kernel_setup import session_or_default
from ._token_store import StoredToken

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

    from ._session import Session

__all__ = ["AsyncNotebookCredential"]


class AsyncNotebookCredential:
    """Async tokens for the account signed in in this kernel.

    In [1]: from azure.storage.blob.aio import BlobServiceClient
    In [2]: async with BlobServiceClient(url, nbauth.async_credential()) as client: ...

    ``session``: the `Session` to use (default: the kernel's).
    """

    def __init__(self, *, session: Session | None = None) -> None:
        self._session = session_or_default(session)

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
        tokens = self._session.tokens
        entry = None if claims else tokens.fresh(scopes, tenant_id, enable_cae)
        if entry is not None:
            return entry
        pending = tokens.pending
        if pending is not None:
            # Its outcome does not matter here: whoever is signed in afterwards is asked.
            await until_done(pending.add_done_callback, pending.remove_done_callback)
        account, mark, outcome = tokens.begin(scopes, claims, tenant_id, enable_cae)
        if not isinstance(outcome, StoredToken):
            outcome = await outcome.wait_async()
        return tokens.still_signed_in(account, mark, outcome)

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
            "and tokens must not travel inside pickles. For workers and other processes, use "
            "nbauth.async_worker_credential(scope) instead."
        )
