"""Tokens for a user account held in the session's msal cache, by refresh token.

The token source of every msal-based method (device code, browser, broker, username/password)
and of accounts remembered from an earlier kernel. A sign-out that happens while msal refreshes
wins: msal writes the new tokens back into its cache, and this source removes them again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import _clouds
from .._errors import (
    AuthenticationError,
    AuthenticationRequired,
    from_msal_result,
    logged_out_meanwhile,
    redact,
    unexpected_msal_error,
)
from .._flight import launch
from .._http import network_error
from .._signin import Account
from .._token_answers import token_tenant
from .._token_store import FreshToken
from ._host import SessionHost

__all__ = ["MsalAccountSource", "account_from_cache"]

_LOGGER = logging.getLogger("nbauth")


class MsalAccountSource:
    """Tokens for a user account held in the session's msal cache, by refresh token."""

    def __init__(
        self,
        session: SessionHost,
        *,
        authority_host: str,
        tenant: str,
        client_id: str,
        msal_account: dict[str, Any],
    ) -> None:
        self._session = session
        self.authority_host = authority_host
        self.tenant = tenant
        self.client_id = client_id
        self._msal_account = msal_account

    def __repr__(self) -> str:
        return (
            f"<MsalAccountSource {self._msal_account.get('username')!r} "
            f"{self.authority_host}/{self.tenant}>"
        )

    def acquire(
        self,
        scopes: tuple[str, ...],
        *,
        tenant_id: str | None,
        claims: str | None,
        enable_cae: bool,
        force_refresh: bool,
    ) -> FreshToken:
        import requests  # Lazy load; msal has imported it already by now.

        authority = _clouds.authority_url(self.authority_host, tenant_id or self.tenant)
        app = self._session.public_client(authority, self.client_id, cae=enable_cae)
        # msal's access-token cache does not tell CAE tokens from others; ask the network for
        # the first CAE token rather than reuse a non-CAE one (and vice versa via our store).
        force = force_refresh or (enable_cae and not claims)
        account_id = str(self._msal_account.get("home_account_id"))
        mark = self._session.logout_mark(account_id)
        try:
            # Callers run this in a thread of its own: msal's frames hold the refresh token
            # (see nbauth._flight).
            result = app.acquire_token_silent_with_error(
                list(scopes),
                self._msal_account,
                force_refresh=force,
                claims_challenge=claims,
            )
        except requests.RequestException as exc:
            raise AuthenticationError(
                network_error(self.authority_host, exc, "while getting a token")
            ) from None
        except ValueError as exc:
            raise AuthenticationError(
                f"{self.authority_host} sent a response nbauth could not read "
                f"({redact(exc)[:200]}). Try again; if it persists, check authority_host."
            ) from None
        except Exception as exc:  # noqa: BLE001 - see unexpected_msal_error
            raise unexpected_msal_error(self.authority_host, exc) from None
        if self._session.logged_out_since(account_id, mark):
            # msal wrote the refreshed tokens back after the sign-out removed them: remove
            # them again, and hand nothing out. A sign-out wins against every refresh.
            self._session.forget_msal_account(self._msal_account)
            raise logged_out_meanwhile(str(self._msal_account.get("username")))
        if result is None:
            raise AuthenticationRequired(
                f"This kernel no longer holds a sign-in for {self._msal_account.get('username')}. "
                f"Run `%azlogin` (or `nbauth.login()`) to sign in again."
            )
        if "error" in result:
            # Not `raise from_msal_result(result)`: %xmode Verbose prints the variables of the
            # raising line, and `result` holds the server's text as is.
            error = from_msal_result(result, silent=True)
            raise error
        fresh = _fresh_token(result, tenant_id or self.tenant, self._msal_account)
        if fresh is None:
            raise AuthenticationError(
                f"{self.authority_host} sent a token response nbauth could not use (a missing or "
                f"malformed access_token, expires_in or refresh_on). Try again; if it persists, "
                f"check authority_host."
            )
        return fresh

    def logout(self) -> None:
        self._session.forget_msal_account(self._msal_account)


def _fresh_token(
    result: dict[str, Any], tenant: str, msal_account: Mapping[str, Any]
) -> FreshToken | None:
    """msal's success dict as a `FreshToken`, or None (the reason logged) if nbauth must not
    use it: malformed, expired, or a token of another tenant than `tenant` (the one asked for)
    means for `msal_account`; see `nbauth._token_answers`. The lifetime is clamped.

    Returns rather than raises: a frame that holds `result` (tokens) must not be in a
    traceback, which ``%xmode Verbose`` prints with the frame's arguments.
    """
    from .._token_answers import (
        clamped_lifetime,
        expected_tenant,
        home_tenant,
        lifetime_problem,
        seconds,
        wrong_tenant,
    )

    token = result.get("access_token")
    if not isinstance(token, str) or not token:
        return None
    raw = result.get("expires_in", _UNSTATED_LIFETIME)
    if raw is _UNSTATED_LIFETIME:  # msal then cached it for expires_on, else 600 s
        on = seconds(result.get("expires_on"))
        raw = 600 if on is None else on - time.time()
    expires_in = seconds(raw)
    problem = lifetime_problem("expires_in", raw, expires_in) or wrong_tenant(
        token, expected_tenant(tenant, home_tenant(msal_account.get("home_account_id")))
    )
    if problem is not None or expires_in is None:
        _LOGGER.warning("nbauth did not use the token msal returned: %s.", problem)
        return None
    refresh_on = seconds(result.get("refresh_on"))
    # A refresh time before now or after expiry: the store picks its own.
    refresh_in = None if refresh_on is None else refresh_on - time.time()
    return FreshToken(token=token, expires_in=clamped_lifetime(expires_in), refresh_in=refresh_in)


_UNSTATED_LIFETIME = object()


def account_from_cache(
    session: SessionHost,
    *,
    authority_host: str,
    tenant: str,
    client_id: str,
    username: str,
    scopes: tuple[str, ...],
    known: Callable[[str], Account | None],
    method: str,
) -> tuple[Account, MsalAccountSource] | None:
    """The msal cache's account for `username`, proven by a silent token for `scopes`, with
    its token source; None when a person would have to sign in. ``known(home_account_id)``:
    this session's earlier record of the account, if any (its name and method are kept)."""
    app = session.public_client(_clouds.authority_url(authority_host, tenant), client_id)
    candidates = app.get_accounts(username=username)
    if not candidates:
        return None
    msal_account = candidates[0]
    source = MsalAccountSource(
        session,
        authority_host=authority_host,
        tenant=tenant,
        client_id=client_id,
        msal_account=msal_account,
    )
    try:
        fresh = launch(  # in a thread of its own: see nbauth._flight
            lambda: source.acquire(
                scopes, tenant_id=None, claims=None, enable_cae=False, force_refresh=False
            ),
            name="nbauth-token",
        ).wait()
    except AuthenticationRequired:
        return None
    home_account_id = str(msal_account["home_account_id"])
    earlier = known(home_account_id)
    tid = token_tenant(fresh.token)
    account = Account(
        username=str(msal_account.get("username") or username),
        home_account_id=home_account_id,
        tenant_id=tid or (earlier.tenant_id if earlier else None),
        home_tenant_id=home_account_id.split(".", 1)[1] if "." in home_account_id else tid,
        name=earlier.name if earlier else None,
        method=earlier.method if earlier else method,
        authority=f"{authority_host}/{tenant}",
        client_id=client_id,
    )
    return account, source
