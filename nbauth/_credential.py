"""The credential Azure SDK clients get: tokens for whoever signed in in this kernel.

``NotebookCredential`` implements azure-core's ``TokenCredential`` and ``SupportsTokenInfo``.
It holds nothing but its session: a cell that signs in again (or signs out) changes what every
client built earlier gets, without rebuilding them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

from azure.core.credentials import AccessToken, AccessTokenInfo

from ._kernel_setup import session_or_default
from ._token_values import RedactedAccessToken, RedactedAccessTokenInfo

if TYPE_CHECKING:
    from azure.core.credentials import TokenRequestOptions

    from ._session import Session
    from ._token_store import StoredToken

__all__ = ["NotebookCredential", "TokenInfoCredential"]


class TokenInfoCredential(Protocol):
    """An azure-core credential with both ways to ask for a token (``TokenCredential`` and
    ``SupportsTokenInfo``), as azure-identity's credentials and `NotebookCredential` are."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken: ...

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo: ...


# Both are built once per stored token and then handed to every caller: they are immutable,
# and building a named tuple per call was a quarter of the hot path's cost.


def access_token(entry: StoredToken) -> AccessToken:
    built = entry.__dict__.get("_access_token")
    if built is None:
        built = RedactedAccessToken(entry.token, int(entry.expires_on))
        object.__setattr__(entry, "_access_token", built)  # a cache, not a field of the entry
    return built


def access_token_info(entry: StoredToken) -> AccessTokenInfo:
    built = entry.__dict__.get("_access_token_info")
    if built is None:
        built = RedactedAccessTokenInfo(
            entry.token,
            int(entry.expires_on),
            token_type="Bearer",
            # Rounded up: at the second a caller is told, the refresh is due, not a moment later
            # (azure-core asks again exactly then, and must get a new token).
            refresh_on=math.ceil(entry.refresh_on),
        )
        object.__setattr__(entry, "_access_token_info", built)
    return built


class NotebookCredential:
    """Tokens for the account signed in in this kernel (``%azlogin`` / ``nbauth.login()``).

    In [1]: from azure.mgmt.resource import SubscriptionClient
    In [2]: SubscriptionClient(nbauth.credential())

    A call made while a sign-in is pending waits for it. With nobody signed in, calls raise
    `AuthenticationRequired`. ``session``: the `Session` to use (default: the kernel's).
    """

    def __init__(self, *, session: Session | None = None) -> None:
        self._session = session_or_default(session)
        self._tokens = self._session.tokens  # the hot path skips one lookup

    @property
    def session(self) -> Session:
        return self._session

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """An access token for `scopes` (azure-core ``TokenCredential``)."""
        entry = None if claims else self._tokens.fresh(scopes, tenant_id, enable_cae)
        if entry is None:
            entry = self._tokens.token(
                scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae
            )
        return access_token(entry)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """An access token for `scopes` with its refresh time (azure-core ``SupportsTokenInfo``)."""
        options = options or {}
        entry = self._tokens.token(
            scopes,
            claims=options.get("claims"),
            tenant_id=options.get("tenant_id"),
            enable_cae=bool(options.get("enable_cae", False)),
        )
        return access_token_info(entry)

    def close(self) -> None:
        """Nothing to release: the session outlives its credentials."""

    def __enter__(self) -> NotebookCredential:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        account = self._session.account
        who = account.username if account is not None else None
        return f"<NotebookCredential account={who!r}>"

    def __getstate__(self) -> object:
        raise TypeError(
            "NotebookCredential cannot be pickled: it is bound to this kernel's sign-in, and "
            "tokens must not travel inside pickles. For workers and other processes, use "
            "nbauth.worker_credential(scope) instead."
        )
