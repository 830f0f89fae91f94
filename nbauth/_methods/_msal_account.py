"""From a successful msal user sign-in result to the session's current account.

Every msal-based user method (device code, browser, username/password) ends
the same way: find the account msal just cached, describe it as an `Account`, and make it
current with an `MsalAccountSource` that renews its tokens by refresh token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _signin
from .._errors import AuthenticationError
from .._jwt import client_info
from .._signin import Account
from ._msal_source import MsalAccountSource

if TYPE_CHECKING:
    import msal

    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["discard", "find_msal_account", "succeed"]


def _home_account_id(result: dict[str, Any]) -> str | None:
    info = client_info(result.get("client_info"))
    if "uid" not in info or "utid" not in info:
        return None
    return f"{info['uid']}.{info['utid']}"


def find_msal_account(app: msal.ClientApplication, result: dict[str, Any]) -> dict[str, Any] | None:
    """The cached msal account a successful result belongs to."""
    home_account_id = _home_account_id(result)
    username = (result.get("id_token_claims") or {}).get("preferred_username")
    accounts: list[dict[str, Any]] = app.get_accounts()
    for candidate in accounts:
        if home_account_id and candidate.get("home_account_id") == home_account_id:
            return candidate
    for candidate in accounts:
        if username and str(candidate.get("username", "")).lower() == username.lower():
            return candidate
    return None


def succeed(
    signin: SignIn,
    session: Session,
    app: msal.PublicClientApplication,
    result: dict[str, Any],
    request: SignInRequest,
    method: str,
) -> None:
    """Finish `signin` with the account of `result` (or fail it if msal kept no account)."""
    claims = result.get("id_token_claims") or {}
    msal_account = find_msal_account(app, result)
    if msal_account is None:
        signin.fail(
            _signin.FAILED,
            AuthenticationError(
                "Entra ID issued a token but no account information (no ID token / client "
                "info), so the sign-in cannot be kept. Check client_id and scopes."
            ),
        )
        return
    home_account_id = str(msal_account["home_account_id"])
    account = Account(
        username=str(msal_account.get("username") or claims.get("preferred_username") or ""),
        home_account_id=home_account_id,
        tenant_id=claims.get("tid"),
        home_tenant_id=(
            home_account_id.split(".", 1)[1] if "." in home_account_id else claims.get("tid")
        ),
        name=claims.get("name"),
        method=method,
        authority=f"{request.authority_host}/{request.tenant}",
        client_id=request.client_id,
    )
    source = MsalAccountSource(
        session,
        authority_host=request.authority_host,
        tenant=request.tenant,
        client_id=request.client_id,
        msal_account=msal_account,
    )
    if not signin.succeed(account, adopt=lambda: session.adopt(account, source)):
        discard(session, app, result)


def discard(session: Session, app: msal.PublicClientApplication, result: dict[str, Any]) -> None:
    """A sign-in that completed after it was cancelled: forget it unless it is current."""
    msal_account = find_msal_account(app, result)
    if msal_account is None:
        return
    current = session.account
    if current is not None and current.home_account_id == msal_account.get("home_account_id"):
        return
    session.forget_msal_account(msal_account)
