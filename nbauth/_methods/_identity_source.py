"""Non-interactive sign-in methods on azure-identity's credentials.

Environment, workload identity, managed identity, the developer tools (az, azd, pwsh), JSON
auth files and explicit secrets/certificates are all "ask a credential for a token": azure-identity
already does each of them well, so nbauth wraps its credentials instead of re-implementing them.
This module holds what those methods share:

- `IdentitySource`: the session's `TokenSource` over any azure-identity credential; it refuses
  a token that has expired or is of another tenant than asked for (`nbauth._token_answers`);
- `sign_in_with`: get a first token (proving the credential works), name the principal from it
  (`principal_account`), make it the session's account, and return the finished `SignIn`.

and, from the modules beside it, so that a method imports its kit from one place: the
credential's settings (`nbauth._methods._identity_options`), the translation of its errors
(`nbauth._methods._identity_errors`) and the naming of principals
(`nbauth._methods._principal_account`).

A sign-in that needs no person finishes inside ``start``: there is nothing to poll.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .._errors import AuthenticationError
from .._signin import SignIn
from .._token_answers import expected_tenant, lifetime_problem, seconds, token_tenant, wrong_tenant
from .._token_store import FreshToken
from ._host import SessionHost
from ._identity_errors import translate_error, translated
from ._identity_options import (
    explicit_client_id,
    explicit_tenant,
    identity_kwargs,
    network_kwargs,
    string_options,
)
from ._principal_account import principal_account, short_id
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from . import SignInRequest

__all__ = [
    "IdentitySource",
    "MethodUnavailable",
    "explicit_client_id",
    "explicit_tenant",
    "identity_kwargs",
    "network_kwargs",
    "principal_account",
    "short_id",
    "sign_in_with",
    "string_options",
    "translate_error",
    "translated",
]

_LOGGER = logging.getLogger("nbauth")

# Tokens asked for at sign-in are reused by the first get_token if they have this much life.
_PRIMED_MIN_LIFETIME_S = 300.0


# -- the token source --------------------------------------------------------------------------


class IdentitySource:
    """Tokens for the current account from an azure-identity credential.

    The credential does its own caching and refreshing where it can (service principals,
    managed identity); the session's `TokenStore` in front of it makes repeated ``get_token``
    calls free either way. ``force_refresh`` cannot be passed on: azure-identity decides when
    its cached token is due, a little before expiry, as the store does.
    """

    def __init__(self, credential: Any, *, method: str, label: str, fix: str) -> None:
        self._credential = credential
        self.method = method
        self.label = label
        self._fix = fix
        self._primed: tuple[tuple[Any, ...], Any] | None = None
        self._lock = threading.Lock()
        self._tenant: str | None = None
        """The tenant of the sign-in's token: the account's, which later tokens must share."""

    def __repr__(self) -> str:
        return f"<IdentitySource {self.method}: {self.label}>"

    def __getstate__(self) -> object:
        raise TypeError(
            "An nbauth token source is live state of this kernel and cannot be pickled."
        )

    def first_token(
        self, scopes: tuple[str, ...], *, claims: str | None = None, tenant: str | None = None
    ) -> Any:
        """A token for `scopes`, kept for the first matching `acquire`; the sign-in's proof.
        ``tenant``: the tenant the sign-in named, which the token must be for."""
        info = self._request(scopes, tenant_id=None, claims=claims, enable_cae=False)
        problem = _unusable(info, _wanted_tenant(tenant, None), time.time())
        if problem is not None:
            raise AuthenticationError(self._refusal(problem))
        with self._lock:
            self._primed = ((tuple(scopes), None, claims, False), info)
            self._tenant = token_tenant(info.token)
        return info

    def acquire(
        self,
        scopes: tuple[str, ...],
        *,
        tenant_id: str | None,
        claims: str | None,
        enable_cae: bool,
        force_refresh: bool,
    ) -> FreshToken:
        key = (tuple(scopes), tenant_id, claims, bool(enable_cae))
        with self._lock:
            primed, self._primed = self._primed, None
        now = time.time()
        if (
            primed is not None
            and primed[0] == key
            and not force_refresh
            and primed[1].expires_on - now > _PRIMED_MIN_LIFETIME_S
        ):
            info = primed[1]
        else:
            info = self._request(scopes, tenant_id=tenant_id, claims=claims, enable_cae=enable_cae)
        problem = _unusable(info, _wanted_tenant(tenant_id, self._tenant), now)
        if problem is not None:
            raise AuthenticationError(self._refusal(problem))
        refresh_on = seconds(getattr(info, "refresh_on", None))
        return FreshToken(
            token=info.token,
            # Checked by _unusable; the store clamps what is too long.
            expires_in=float(info.expires_on) - now,
            refresh_in=None if refresh_on is None else refresh_on - now,
        )

    def _refusal(self, problem: str) -> str:
        return (
            f"{self.label} gave a token nbauth cannot use: {problem}. Try again; if it "
            f"persists, sign in again (`%azlogin`)."
        )

    def _request(
        self,
        scopes: tuple[str, ...],
        *,
        tenant_id: str | None,
        claims: str | None,
        enable_cae: bool,
    ) -> Any:
        options: dict[str, Any] = {}
        if tenant_id:
            options["tenant_id"] = tenant_id
        if claims:
            options["claims"] = claims
        if enable_cae:
            options["enable_cae"] = True
        started = time.monotonic()
        with translated(self.method, self.label, self._fix):
            get_token_info = getattr(self._credential, "get_token_info", None)
            if get_token_info is not None:
                info = get_token_info(*scopes, options=options or None)
            else:  # credentials from before azure-core's SupportsTokenInfo
                info = self._credential.get_token(
                    *scopes, tenant_id=tenant_id, claims=claims, enable_cae=enable_cae
                )
        _LOGGER.debug(
            "%s: token for %s in %.0f ms",
            self.label,
            " ".join(scopes),
            (time.monotonic() - started) * 1000,
        )
        return info

    def logout(self) -> None:
        # Nothing to revoke: the developer tools and the environment keep their own sign-in;
        # dropping the credential drops azure-identity's in-memory token cache with it.
        close = getattr(self._credential, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - signing out must not fail
                _LOGGER.debug("closing %s failed", self.label, exc_info=True)


def _wanted_tenant(tenant_id: str | None, account_tenant: str | None) -> str | None:
    """The tenant ID a token must be for: the one asked for (if an ID), else the account's."""
    if tenant_id:
        return expected_tenant(tenant_id, None)
    return account_tenant.lower() if account_tenant else None


def _unusable(info: Any, tenant: str | None, now: float) -> str | None:
    """Why the token in azure-identity's `info` must not be used, or None: its ``expires_on``
    is no time or already past (`nbauth._token_answers`), or it is for another tenant."""
    raw = getattr(info, "expires_on", None)
    expires_on = seconds(raw)
    expires_in = None if expires_on is None else expires_on - now
    return lifetime_problem("expires_on", raw, expires_in) or wrong_tenant(info.token, tenant)


def sign_in_with(
    session: SessionHost,
    request: SignInRequest,
    credential: Any,
    *,
    label: str,
    fix: str,
    authority_host: str | None = None,
    scopes: tuple[str, ...] | None = None,
    app_name: str | None = None,
) -> SignIn:
    """Sign in with an azure-identity credential; see the module docstring.

    Raises `MethodUnavailable` (the credential cannot work here), `EntraError` /
    `AuthenticationError` (it tried and failed). ``label`` names the source in messages
    ("the Azure CLI"), ``fix`` says what to do when it is unavailable.
    """
    method = request.method
    source = IdentitySource(credential, method=method, label=label, fix=fix)
    info = source.first_token(
        scopes or request.scopes, claims=request.claims, tenant=explicit_tenant(request)
    )
    account = principal_account(
        info.token,
        method=method,
        authority_host=authority_host or request.authority_host,
        tenant=request.tenant,
        client_id=explicit_client_id(request),
        app_name=app_name,
    )
    signin = SignIn(method=method)
    signin.succeed(account, adopt=lambda: session.adopt(account, source))
    _LOGGER.info("Signed in as %s with %s.", account.username, label)
    return signin
