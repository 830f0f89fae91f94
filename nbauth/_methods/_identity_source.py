"""Non-interactive sign-in methods on azure-identity's credentials.

Environment, workload identity, managed identity, the developer tools (az, azd, pwsh), JSON
auth files and explicit secrets/certificates are all "ask a credential for a token": azure-identity
already does each of them well, so nbauth wraps its credentials instead of re-implementing them.
This module holds what those methods share:

- `IdentitySource`: the session's `TokenSource` over any azure-identity credential; it refuses
  a token that has expired or is of another tenant than asked for (`nbauth._token_answers`);
- `network_kwargs` / `identity_kwargs`: the same bound on every request as msal's
  (`nbauth._http`);
- `translate_error`: the one place where azure-identity's exceptions become nbauth's
  (``CredentialUnavailableError`` -> `MethodUnavailable`, saying what to install / set / run;
  ``ClientAuthenticationError`` -> `EntraError` through `from_msal_result` when Entra answered,
  else `AuthenticationError` with guidance);
- `sign_in_with`: get a first token (proving the credential works), name the principal from it,
  make it the session's account, and return the finished `SignIn`.

A sign-in that needs no person finishes inside ``start``: there is nothing to poll.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .. import _clouds
from .._errors import (
    REDACTED,
    AuthenticationError,
    ConfigurationError,
    from_msal_result,
    redact,
)
from .._http import describe_network_failure, http_timeouts
from .._session import DEFAULT_CLIENT_ID
from .._signin import Account, SignIn
from .._token_answers import (
    expected_tenant,
    lifetime_problem,
    seconds,
    token_tenant,
    wrong_tenant,
)
from .._token_store import FreshToken
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._session import Session
    from . import SignInRequest

__all__ = [
    "IdentitySource",
    "MethodUnavailable",
    "explicit_client_id",
    "explicit_tenant",
    "identity_kwargs",
    "principal_account",
    "short_id",
    "sign_in_with",
    "string_options",
    "translate_error",
    "translated",
]

_LOGGER = logging.getLogger("nbauth")

_AADSTS = re.compile(r"AADSTS\d+")
# What Python's int() and float() say about text or values that are no number.
_NOT_A_NUMBER = (
    "invalid literal for int()",
    "could not convert string to float",
    "cannot convert float",
)
# Tokens asked for at sign-in are reused by the first get_token if they have this much life.
_PRIMED_MIN_LIFETIME_S = 300.0


# -- settings that every azure-identity credential gets ------------------------------------------


def identity_kwargs(authority_host: str) -> dict[str, Any]:
    """Keyword arguments for an azure-identity credential that talks to Entra ID itself.

    No instance discovery for hosts that are not Microsoft's (an emulator, a private cloud):
    azure-identity would ask login.microsoftonline.com about the host first. Network bounds
    as for msal (`network_kwargs`), and ``$NBAUTH_CA_BUNDLE`` like every other nbauth request.
    """
    kwargs: dict[str, Any] = {"authority": authority_host, **network_kwargs()}
    if not _clouds.uses_instance_discovery(authority_host):
        kwargs["disable_instance_discovery"] = True
    bundle = os.environ.get("NBAUTH_CA_BUNDLE")
    if bundle:
        kwargs["connection_verify"] = bundle
    return kwargs


def network_kwargs() -> dict[str, Any]:
    """azure-core settings that give every request of an azure-identity credential the same
    bound as msal's (`nbauth._http`): its timeouts, and no second attempt after a request got
    no answer or no connection (azure-core's default retries both three times, so a stalled
    endpoint would cost four times the timeout). Answers such as HTTP 429/503 are still
    retried as azure-identity decides."""
    connect_s, read_s = http_timeouts()
    return {
        "connection_timeout": connect_s,
        "read_timeout": read_s,
        "retry_connect": 0,
        "retry_read": 0,
    }


def explicit_tenant(request: SignInRequest) -> str | None:
    """The tenant the caller named, or None when it is the 'organizations'/'common' default,
    which no service principal or developer tool can use as such."""
    return None if request.tenant.lower() in ("organizations", "common") else request.tenant


def explicit_client_id(request: SignInRequest) -> str | None:
    """The client ID the caller named, or None when it is the Azure CLI's public client (the
    default for user sign-ins, never an identity of a service principal)."""
    return None if request.client_id.lower() == DEFAULT_CLIENT_ID else request.client_id


# -- errors ----------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line
    return ""


def translate_error(exc: BaseException, *, method: str, label: str, fix: str) -> Exception:
    """The nbauth exception for an exception raised by an azure-identity credential.

    The one place where azure-identity's errors become nbauth's. ``label`` names the source
    ("the Azure CLI"), ``fix`` says what to install, set or run. Text from the credential is
    redacted: the CLI credentials quote the tool's output.
    """
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, (MethodUnavailable, ConfigurationError, AuthenticationError)):
        return exc
    message = redact(getattr(exc, "message", None) or str(exc))
    timeout = _timed_out(exc)
    if timeout is not None:
        # azure-identity reports a tool that hangs as "Failed to invoke ...": installing it is
        # not the fix, it is there.
        return AuthenticationError(
            f"{label} did not answer within {timeout:g} s and was stopped. Run it in a terminal "
            f"to see what it waits for (a prompt, a sign-in), or pass process_timeout=<seconds> "
            f"if it is only slow."
        )
    if isinstance(exc, CredentialUnavailableError):
        return MethodUnavailable(method, _first_line(message) or f"{label} gave no token", fix)
    failure = describe_network_failure(label, exc)
    if failure is not None:
        return AuthenticationError(f"{failure}. Check the network connection and try again.")
    if isinstance(exc, ClientAuthenticationError):
        body = _entra_body(exc)
        if body is not None:
            return from_msal_result(body)
        found = _AADSTS.search(message)
        if found:
            # azure-identity keeps only Entra's description ("Authentication failed: AADSTS...")
            return from_msal_result({"error_description": message[found.start() :]})
        if _not_a_number(message):  # msal's int() of the answer, wrapped by azure-identity
            return _lifetime_not_a_number(label, message)
        return AuthenticationError(
            f"{label} could not get a token: {_first_line(message)[:300]} {fix}".strip()
        )
    if isinstance(exc, (ValueError, OverflowError)) and _not_a_number(message):
        # int() / float() of the answer's expires_on, expires_in or refresh_in failed: the
        # server's fault, not the caller's (whose values azure-identity checks with words).
        return _lifetime_not_a_number(label, message)
    if isinstance(exc, ValueError):
        return ConfigurationError(f"{label} refused the request: {_first_line(message)[:300]}")
    return AuthenticationError(
        f"{label} failed unexpectedly ({type(exc).__name__}: {_first_line(message)[:200]}). {fix}"
    )


def _not_a_number(message: str) -> bool:
    return any(words in message for words in _NOT_A_NUMBER)


def _lifetime_not_a_number(label: str, message: str) -> AuthenticationError:
    found = min(message.find(words) for words in _NOT_A_NUMBER if words in message)
    return AuthenticationError(
        f"{label} sent a token answer whose lifetime (expires_on, expires_in or refresh_in) "
        f"is not a number ({_first_line(message[found:])[:80]}). Try again; if it persists, "
        f"the service is broken."
    )


def _timed_out(exc: BaseException) -> float | None:
    """The timeout, if `exc` was caused by a tool's process not finishing in time."""
    import subprocess

    seen: BaseException | None = exc
    for _ in range(5):  # a short cause chain; never loop on a cycle
        if seen is None:
            return None
        if isinstance(seen, subprocess.TimeoutExpired):
            return float(seen.timeout)
        seen = seen.__cause__ or seen.__context__
    return None


def _scrub(exc: BaseException) -> None:
    """Redact the text of azure-identity's exception `exc` in place.

    It is no longer raised, but a traceback of the error raised in its place shows it: this
    generator's frame and contextlib's ``__exit__`` frame hold it, and ``%xmode Verbose``
    prints their variables, i.e. its repr, which quotes Entra's or a tool's text as is.
    """
    exc.args = tuple(redact(a) if isinstance(a, str) else REDACTED for a in exc.args)
    if isinstance(getattr(exc, "message", None), str):
        exc.message = redact(exc.message)  # type: ignore[attr-defined]


def _entra_body(exc: BaseException) -> dict[str, Any] | None:
    """Entra's JSON error body, when azure-identity kept the response."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        body = json.loads(response.text())
    except Exception:  # noqa: BLE001 - anything unreadable is simply not Entra's error body
        return None
    return body if isinstance(body, dict) and body.get("error") else None


# azure-identity logs a WARNING for every failed get_token outside its own chains; nbauth
# raises the same news as an exception with advice, so those records are dropped while an
# nbauth method is asking.
_asking: ContextVar[bool] = ContextVar("nbauth_asking_azure_identity", default=False)
_filter_lock = threading.Lock()
_filtered: set[str] = set()


class _QuietWhileAsking(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_asking.get() and record.levelno < logging.ERROR)


_QUIET = _QuietWhileAsking()


def _install_filter() -> None:
    """Filter every azure.identity logger. A logger's filters do not see its children's
    records, each azure-identity module logs through its own logger, and some modules are
    imported only when a credential is built: so new loggers are looked for on every call
    (a scan of the logger names, on the sign-in and refresh path only)."""
    with _filter_lock:
        for name in list(logging.Logger.manager.loggerDict):
            if name not in _filtered and (
                name == "azure.identity" or name.startswith("azure.identity.")
            ):
                logging.getLogger(name).addFilter(_QUIET)
                _filtered.add(name)


@contextmanager
def translated(method: str, label: str, fix: str) -> Iterator[None]:
    """Run a call to azure-identity: its errors translated, its warnings kept quiet."""
    _install_filter()
    token = _asking.set(True)
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - translate_error decides
        error = translate_error(exc, method=method, label=label, fix=fix)
        if error is not exc:
            _scrub(exc)
        raise error from None
    finally:
        _asking.reset(token)


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

    def sign_out(self) -> None:
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


# -- accounts of principals that are not people -----------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: only to name the principal."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def short_id(value: str) -> str:
    """``5e7a1b2c…``: enough of a GUID to tell principals apart in a badge."""
    return f"{value[:8]}…" if len(value) > 8 else value


def principal_account(
    token: str,
    *,
    method: str,
    authority_host: str,
    tenant: str,
    client_id: str | None,
    app_name: str | None = None,
) -> Account:
    """The `Account` a token was issued to, for display and as the session's key.

    A user (the developer tools' sign-in) keeps their username; an application is named
    `app_name`, default ``"service principal <client id>…"``. The ID is the token's object ID
    and tenant, so the same principal signed in twice is one account. The authority is
    ``authority_host`` with the token's tenant (else `tenant`).
    """
    claims = _claims(token)
    tid = str(claims.get("tid") or "") or None
    oid = str(claims.get("oid") or "") or None
    user = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
    is_app = claims.get("idtyp") == "app" or (not user and not claims.get("scp"))
    appid = str(claims.get("appid") or claims.get("azp") or client_id or "") or None
    if is_app:
        username = app_name or (f"service principal {short_id(appid)}" if appid else "application")
        name = None
        home_tid = tid
    else:
        username = str(user or claims.get("email") or "unknown user")
        name = claims.get("name")
        # A guest's token names its home tenant's issuer in `idp`.
        idp = claims.get("idp")
        home_tid = idp.rstrip("/").rsplit("/", 1)[-1] if isinstance(idp, str) and idp else tid
    return Account(
        username=username,
        home_account_id=f"{oid}.{tid}" if oid and tid else f"{method}:{appid or username}",
        tenant_id=tid,
        home_tenant_id=home_tid,
        name=str(name) if name else None,
        method=method,
        authority=f"{authority_host}/{tid or tenant}",
        client_id=appid,
    )


def sign_in_with(
    session: Session,
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


def string_options(request: SignInRequest, names: tuple[str, ...]) -> Mapping[str, str]:
    """The given options among `names`, each a non-empty string (named, never shown)."""
    out: dict[str, str] = {}
    for name in names:
        value = request.options.get(name)
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise ConfigurationError(
                f"Option {name!r} of sign-in method {request.method!r} must be a non-empty string."
            )
        out[name] = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return out
