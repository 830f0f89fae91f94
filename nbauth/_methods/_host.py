"""What sign-in methods may ask of the session that calls them, and what they give back.

Methods sit on a floor below the session (see DEVELOPMENT.md): they never import it. The session
passes itself to ``start(session, request)``; these Protocols say which of its members a method
may use, so the floors stay one-way and mypy checks both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import msal
    import requests

    from .._signin import Account, SignIn, SignInReport
    from .._token_store import FreshToken, StoredToken
    from ._paste_back import RefusedTenants

__all__ = ["SessionHost", "TokenSource"]


class TokenSource(Protocol):
    """Where the current account's tokens come from (msal for interactive methods; other
    methods may wrap an azure-identity credential)."""

    def acquire(
        self,
        scopes: tuple[str, ...],
        *,
        tenant_id: str | None,
        claims: str | None,
        enable_cae: bool,
        force_refresh: bool,
    ) -> FreshToken: ...

    def logout(self) -> None: ...


class SessionHost(Protocol):
    """The members of `nbauth._session.Session` that sign-in methods use."""

    last_auto_report: SignInReport | None
    """Set by the ``auto`` chain after each run (`nbauth.last_auto_report()`)."""
    person_method: str | None
    """How a person signs in on a remote kernel (`._paste_back.prefers_browser`)."""
    device_code_refusals: RefusedTenants
    """Tenants that refused the device-code flow in this kernel (`._paste_back`)."""

    @property
    def account(self) -> Account | None: ...

    def adopt(self, account: Account, source: TokenSource) -> None: ...

    def track_pending(self, signin: SignIn) -> None: ...

    def public_client(
        self, authority: str, client_id: str, *, cae: bool = False
    ) -> msal.PublicClientApplication: ...

    def http_client(self) -> requests.Session: ...

    def forget_msal_account(self, msal_account: dict[str, Any]) -> None: ...

    def logout_mark(self, account_id: str) -> tuple[int, int]: ...

    def logged_out_since(self, account_id: str, mark: tuple[int, int]) -> bool: ...

    def peek_token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken | None: ...

    def token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken: ...

    def sign_in_silently(
        self,
        *,
        username: str | None = None,
        tenant: str | None = None,
        client_id: str | None = None,
        authority_host: str | None = None,
        scopes: Any = None,
    ) -> Account | None: ...
