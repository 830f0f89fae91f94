"""The token path: every credential's way from scopes to a token for the current account.

`TokenPath` is the session's half that runs on each ``get_token``: a dict lookup in the
`TokenStore` while a token is fresh; otherwise one acquisition in flight per key (see
`nbauth._token_store`), thrown away if the account is signed out while it runs (see
`nbauth._account_book`). It owns no sign-in state: the session gives it the account book and
keeps `pending` up to date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import _clouds
from ._errors import (
    AuthenticationError,
    AuthenticationRequired,
    ConfigurationError,
    logged_out_meanwhile,
)
from ._scopes import normalize_scopes
from ._token_store import FreshToken, StoredToken, TokenKey, TokenStore

if TYPE_CHECKING:
    from ._account_book import AccountBook
    from ._flight import Flight
    from ._signin import Account, SignIn

__all__ = ["TokenPath"]

LogoutMark = tuple[int, int]


class TokenPath:
    """Tokens for the current account of one session (see the module docstring)."""

    __slots__ = ("_book", "interaction_handler", "pending", "store")

    def __init__(self, book: AccountBook, clock: Callable[[], float]) -> None:
        self._book = book
        self.store = TokenStore(clock=clock)
        self.pending: SignIn | None = None
        """The session's pending sign-in: tokens wait for it (set by the session only)."""
        self.interaction_handler: Callable[..., bool] | None = None
        """Called when a token for the signed-in account needs a new sign-in; see `token`
        (the inline re-prompt, `nbauth._ui.reprompt`)."""

    def token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken:
        """A token for the current account; the credentials' common path.

        Waits for a pending sign-in first. Raises `AuthenticationRequired` if nobody is
        signed in. If an account is signed in but needs to sign in again (revoked, MFA, claims
        challenge...) and `interaction_handler` is set, it is called once, on this thread,
        as ``handler(error, scopes=, tenant_id=, claims=, enable_cae=)``: True retries the
        lookup once, False raises the original error.
        """
        try:
            return self.get(scopes, claims, tenant_id, enable_cae)
        except AuthenticationRequired as exc:
            handler = self.interaction_handler
            if handler is None or self._book.current is None:
                raise  # nobody to sign in again: the plain "run %azlogin" error
            if handler(
                exc, scopes=scopes, tenant_id=tenant_id, claims=claims, enable_cae=enable_cae
            ):
                return self.get(scopes, claims, tenant_id, enable_cae)
            raise

    def get(
        self,
        scopes: tuple[str, ...],
        claims: str | None,
        tenant_id: str | None,
        enable_cae: bool,
    ) -> StoredToken:
        """A token, waiting for a pending sign-in and for an acquisition if need be."""
        pending = self.pending
        if pending is not None and not pending.done():
            _wait_for(pending)
        account, mark, outcome = self.begin(scopes, claims, tenant_id, enable_cae)
        entry = outcome if isinstance(outcome, StoredToken) else outcome.wait()
        return self.still_signed_in(account, mark, entry)

    def begin(
        self,
        scopes: tuple[str, ...],
        claims: str | None,
        tenant_id: str | None,
        enable_cae: bool,
    ) -> tuple[Account, LogoutMark, StoredToken | Flight[StoredToken]]:
        """The first half of `get`, which never blocks: (account, sign-out mark, the token or
        the acquisition in flight). Pass all three to `still_signed_in`. Does not wait for a
        pending sign-in."""
        if not scopes:
            raise ConfigurationError(
                "get_token needs at least one scope, such as 'https://management.azure.com/.default'."
            )
        current = self._book.current
        if current is None:
            raise AuthenticationRequired()
        if tenant_id is not None:
            _clouds.validate_tenant(tenant_id)
        account_id = current.account.home_account_id
        mark = self._book.mark(account_id)
        key = TokenKey(
            tuple(sorted(scopes)), tenant_id or "", claims or "", bool(enable_cae), account_id
        )
        entry = self.store.peek(key) if not claims else None
        if entry is not None:
            return current.account, mark, entry
        source = current.source
        normalize_scopes(scopes)

        def acquire(force_refresh: bool) -> FreshToken:
            return source.acquire(
                scopes,
                tenant_id=tenant_id,
                claims=claims,
                enable_cae=bool(enable_cae),
                force_refresh=force_refresh,
            )

        return current.account, mark, self.store.begin(key, acquire, bypass=bool(claims))

    def still_signed_in(self, account: Account, mark: LogoutMark, entry: StoredToken) -> StoredToken:
        """`entry`, unless `account` was signed out while it was being fetched."""
        if self._book.mark(account.home_account_id) != mark:
            raise logged_out_meanwhile(account.username)
        return entry

    def fresh(
        self, scopes: tuple[str, ...], tenant_id: str | None, enable_cae: bool
    ) -> StoredToken | None:
        """The stored token if it is fresh and nothing else is needed; never blocks. Every
        credential's hot path.

        azure-core asks before each request, so this does as little as it can: no lock, no
        sorting of a single scope, and a plain tuple key, which hashes and compares equal to
        the `TokenKey` the store was filled with.
        """
        current = self._book.current
        if current is None:
            return None
        pending = self.pending
        if pending is not None and not pending.done():
            return None
        return self.store.peek(
            (
                scopes if len(scopes) == 1 else tuple(sorted(scopes)),
                tenant_id or "",
                "",
                bool(enable_cae),
                current.account.home_account_id,
            )
        )


def _wait_for(pending: SignIn) -> None:
    try:
        pending.wait()
    except AuthenticationError:
        # The pending sign-in failed; the caller proceeds with whoever is (still) signed in, or
        # gets AuthenticationRequired.
        pass
