"""The kernel's sign-in state, and the module-level functions that use it.

One `Session` per kernel holds everything that must survive from one cell to the next: the msal
applications (one per authority + client ID + CAE, built once so OIDC discovery happens once),
their shared token cache, the signed-in account, a pending sign-in, and the `TokenStore` that
makes ``get_token`` cheap. Credentials, magics and widgets all ask the session; none of them
keeps a token of its own.

Tests construct their own ``Session()`` so they share nothing; notebooks use `session()`.
"""

from __future__ import annotations

import logging
import reprlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from . import _arguments, _clouds, _log_redaction
from ._errors import (
    AuthenticationError,
    AuthenticationRequired,
    ConfigurationError,
    SignInCancelled,
    SignInTimeout,
    from_msal_result,
    redact,
)
from ._flight import Flight, launch
from ._hidden import HiddenValues
from ._http import network_failure
from ._persistence import AccountRecord, Persistence, PersistenceStatus, Persister
from ._prompt import print_prompt
from ._signin import Account, SignIn
from ._token_store import FreshToken, StoredToken, TokenKey, TokenStore

if TYPE_CHECKING:
    import msal
    import requests

    from ._credential import NotebookCredential
    from ._prompt import DeviceCodePrompt
    from .aio import AsyncNotebookCredential

__all__ = [
    "Account",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TENANT",
    "MsalAccountSource",
    "Session",
    "TokenSource",
    "async_credential",
    "credential",
    "current_account",
    "login",
    "logout",
    "reset_session",
    "session",
]

_LOGGER = logging.getLogger("nbauth")

DEFAULT_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
"""The Azure CLI's public client: works in any tenant without an app registration."""
DEFAULT_TENANT = "organizations"

# msal adds these to every user sign-in itself and refuses them in a request.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


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

    def sign_out(self) -> None: ...


@dataclass(frozen=True)
class _Current:
    account: Account
    source: TokenSource


def normalize_scopes(scopes: Iterable[str] | str | None, what: str = "scopes") -> tuple[str, ...]:
    given = scopes
    if isinstance(scopes, str):
        scopes = scopes.split()
    if isinstance(scopes, Iterable):
        out = tuple(scopes)
    else:  # one value of another type (5, True): refused below, not a TypeError
        out = (scopes,) if scopes is not None else ()
    if not out or not all(isinstance(s, str) and s.strip() for s in out):
        raise ConfigurationError(
            f"{what} must be one or more scope strings, such as "
            f"'https://management.azure.com/.default'; got {reprlib.repr(given)}."
        )
    reserved = _RESERVED_SCOPES.intersection(s.lower() for s in out)
    if reserved:
        raise ConfigurationError(
            f"Do not ask for {', '.join(sorted(reserved))}: nbauth (through msal) always adds "
            f"openid, profile and offline_access. Ask for a resource scope such as "
            f"'https://management.azure.com/.default'."
        )
    return out


class MsalAccountSource:
    """Tokens for a user account held in the session's msal cache, by refresh token."""

    def __init__(
        self,
        session: Session,
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
        mark = self._session.sign_out_mark(account_id)
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
                f"{network_failure(self.authority_host, exc)} while getting a token. Check the "
                f"network connection and try again."
            ) from None
        except ValueError as exc:
            raise AuthenticationError(
                f"{self.authority_host} sent a response nbauth could not read "
                f"({redact(exc)[:200]}). Try again; if it persists, check authority_host."
            ) from None
        except Exception as exc:  # noqa: BLE001 - see unexpected_msal_error
            raise unexpected_msal_error(self.authority_host, exc) from None
        if self._session.signed_out_since(account_id, mark):
            # msal wrote the refreshed tokens back after the sign-out removed them: remove
            # them again, and hand nothing out. A sign-out wins against every refresh.
            self._session.forget_msal_account(self._msal_account)
            raise signed_out_meanwhile(str(self._msal_account.get("username")))
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

    def sign_out(self) -> None:
        self._session.forget_msal_account(self._msal_account)


class Session:
    """The kernel's sign-in state. See the module docstring.

    ``authority_host``, ``tenant`` and ``client_id`` are defaults for `login`;
    ``clock`` is the token store's clock (tests move it instead of sleeping).
    ``persistence`` (a `Persistence` or its name; default ``$NBAUTH_PERSIST``, else none),
    ``allow_unencrypted`` (default ``$NBAUTH_PERSIST_ALLOW_UNENCRYPTED``) and ``cache_dir``
    (default ``$NBAUTH_CACHE_DIR`` or ``~/.cache/nbauth``): see `nbauth._persistence`.
    """

    def __init__(
        self,
        *,
        authority_host: str | None = None,
        tenant: str | None = None,
        client_id: str | None = None,
        clock: Callable[[], float] = time.time,
        persistence: Persistence | str | None = None,
        allow_unencrypted: bool | None = None,
        cache_dir: str | None = None,
    ) -> None:
        self._authority_host = (
            _clouds.normalize_authority_host(authority_host) if authority_host else None
        )
        self._tenant = _clouds.validate_tenant(tenant) if tenant else None
        self._client_id = client_id
        self._store = TokenStore(clock=clock)
        self._lock = threading.RLock()
        self._apps_lock = threading.Lock()
        self._apps: dict[tuple[str, str, bool], msal.PublicClientApplication] = {}
        self._msal_cache: msal.TokenCache | None = None
        # Nothing is opened or imported until the first sign-in needs it.
        self._persister = Persister(
            persistence, allow_unencrypted=allow_unencrypted, cache_dir=cache_dir
        )
        self._http: requests.Session | None = None
        # msal's and azure-core's own logs can hold tokens: redact them (see _log_redaction).
        _log_redaction.install()
        self._current: _Current | None = None
        self._pending: SignIn | None = None
        self._credential: NotebookCredential | None = None
        self._async_credential: AsyncNotebookCredential | None = None
        # Every account signed in in this session, by home_account_id, with its token source,
        # so switching back needs no network.
        self._known: dict[str, _Current] = {}
        self._sign_out_listeners: list[Callable[[Account | None], object]] = []
        # How many times each account (by home_account_id; "*": every account) was signed out:
        # work that started before a sign-out compares marks, and throws its tokens away.
        self._sign_outs: dict[str, int] = {}
        self.interaction_handler: Callable[..., bool] | None = None
        """Called when a token for the signed-in account needs a new sign-in; see `token`."""

    # -- state -------------------------------------------------------------------------------

    @property
    def account(self) -> Account | None:
        """The signed-in account, or None."""
        current = self._current
        return current.account if current is not None else None

    @property
    def pending(self) -> SignIn | None:
        """The sign-in in progress, if any."""
        pending = self._pending
        return pending if pending is not None and not pending.done() else None

    @property
    def token_store(self) -> TokenStore:
        return self._store

    @property
    def authority_host(self) -> str:
        """The default authority host: as given, else ``$AZURE_AUTHORITY_HOST``, else public."""
        return self._authority_host or _clouds.default_authority_host()

    @property
    def cloud(self) -> _clouds.Cloud:
        """The current account's cloud (it may have signed in with ``cloud=``), else the
        default authority host's."""
        account = self.account
        if account is not None and "://" in account.authority:
            return _clouds.cloud_for(account.authority.rsplit("/", 1)[0])
        return _clouds.cloud_for(self.authority_host)

    def __repr__(self) -> str:
        who = self.account.username if self.account else None
        return f"<nbauth.Session account={who!r} pending={self.pending!r}>"

    def __getstate__(self) -> object:
        raise TypeError(
            "An nbauth Session is live state of this kernel and cannot be pickled. "
            "Sign in in each process that needs tokens."
        )

    # -- signing in and out ------------------------------------------------------------------

    def login(
        self,
        method: str = "device_code",
        *,
        tenant: str | None = None,
        client_id: str | None = None,
        scopes: Iterable[str] | str | None = None,
        authority_host: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        prompt: Callable[[DeviceCodePrompt], object] | None = None,
        claims: str | None = None,
        persistence: Persistence | str | None = None,
        allow_unencrypted: bool | None = None,
        cloud: _clouds.Cloud | str | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> SignIn:
        """Start a sign-in; see `nbauth.login`.

        ``claims``: a claims challenge (from a resource's 401, or an `InteractionRequired`) that
        the new sign-in must satisfy. ``persistence`` / ``allow_unencrypted``: see
        `set_persistence` (None: leave as is). ``options``: method-specific arguments, handed
        to the method as `SignInRequest.options` (read-only; never echoed).
        """
        options = HiddenValues(options)  # secrets: see nbauth._hidden
        from ._methods import SignInRequest, canonical_name, resolve

        # Every argument is checked before anything changes: a refused sign-in leaves the
        # session's persistence, its pending sign-in and the cloud registry as they were.
        name = canonical_name(method)
        chosen = _login_cloud(cloud, authority_host)
        if chosen is not None:
            host = chosen.authority_host
        elif authority_host:
            host = _clouds.normalize_authority_host(authority_host)
        else:
            host = self.authority_host
        timeout = _arguments.seconds(timeout)
        _arguments.flag(wait, "wait")
        strategy = Persistence.parse(persistence) if persistence is not None else None
        allow = _arguments.optional_flag(allow_unencrypted, "allow_unencrypted")
        if prompt is not None and not callable(prompt):
            raise ConfigurationError(
                "prompt must be a function that takes a DeviceCodePrompt, or None (print it)."
            )
        request = SignInRequest(
            method=name,
            authority_host=host,
            tenant=_clouds.validate_tenant(tenant or self._tenant or DEFAULT_TENANT),
            client_id=(
                _arguments.text(client_id, "client_id", "'04b07795-8ddb-461a-bbee-02f9e1bf7b46'")
                if client_id
                else self._client_id or DEFAULT_CLIENT_ID
            ),
            scopes=normalize_scopes(
                scopes if scopes is not None else (chosen or _clouds.cloud_for(host)).arm_scope
            ),
            prompt=prompt or print_prompt,
            claims=_arguments.text(claims, "claims", "a JSON claims challenge") if claims else None,
            options=MappingProxyType(dict(options)),
        )
        start = resolve(name)
        if strategy is not None or allow is not None:
            self.set_persistence(strategy, allow_unencrypted=allow)
        else:
            self._persister.check()  # a bad $NBAUTH_PERSIST*: said before anyone signs in
        if chosen is not None:
            _clouds.register(chosen)  # the session follows this cloud (ARM, scopes)
        for option, value in options.items():
            if "secret" in option or "password" in option:
                _log_redaction.register_secret(value)  # need not look like a token

        # The newest sign-in wins, once it exists: a method that refuses its arguments (or
        # fails to start) leaves a pending sign-in alone. See also track_pending.
        previous = self.pending
        signin: SignIn | None = None
        try:
            signin = start(self, request)
            with self._lock:
                self._pending = signin
            if previous is not None and previous is not signin:
                previous.cancel()
            if wait:
                signin.wait(timeout)
        except KeyboardInterrupt:
            # The stop button: cancel (the polling thread is stopped and joined) and say so.
            # `signin` is unset if the interrupt came while `start` ran; methods register their
            # sign-in through track_pending() before anything runs in the background.
            target = signin if signin is not None else self.pending
            if target is not None:
                target.cancel()
            raise SignInCancelled(self._cancelled_message("interrupted")) from None
        except SignInTimeout:
            assert signin is not None
            signin.cancel()
            raise SignInTimeout(
                f"The sign-in did not finish within {timeout:g} s and was cancelled. Run "
                f"`%azlogin` (or `nbauth.login()`) again, with a longer timeout if needed."
            ) from None
        return signin

    def track_pending(self, signin: SignIn) -> None:
        """Record `signin` as this session's pending sign-in (sign-in methods call this as soon
        as the SignIn exists, before showing the prompt or starting a thread); the one it
        replaces is cancelled: the newest sign-in wins."""
        with self._lock:
            previous, self._pending = self._pending, signin
        if previous is not None and previous is not signin:
            previous.cancel()

    def _cancelled_message(self, why: str) -> str:
        account = self.account
        still = (
            f" {account.username} is still signed in."
            if account is not None
            else " Run `%azlogin` (or `nbauth.login()`) to try again."
        )
        return f"The sign-in was cancelled ({why}).{still}"

    def logout(self, all: bool = False) -> None:  # noqa: A002 - the public name the brief asks for
        """Sign out the current account (``all=True``: every account this kernel knows)."""
        if not all:
            current = self._current
            if current is not None:
                self.sign_out(current.account)
            return
        pending = self.pending
        if pending is not None:
            pending.cancel()
        with self._lock:
            self._current = None
            known_ids = set(self._known)
            self._known.clear()
            self._sign_outs["*"] = self._sign_outs.get("*", 0) + 1
        self._persister.forget(known_ids)
        # A saved cache also holds other kernels' sign-ins: those are not this kernel's to end.
        self._forget_all_msal_accounts(known_ids if self._persister.saves_tokens else None)
        self._store.clear()
        self._notify_sign_out(None)

    def sign_out(self, account: Account | str) -> Account:
        """Forget one account (current or not): its msal tokens and stored tokens.

        ``account``: an `Account` or a username. Returns the account signed out.
        """
        with self._lock:
            entry = self._known_entry(account)
            self._known.pop(entry.account.home_account_id, None)
            signed_out_id = entry.account.home_account_id
            self._sign_outs[signed_out_id] = self._sign_outs.get(signed_out_id, 0) + 1
            if (
                self._current is not None
                and self._current.account.home_account_id == entry.account.home_account_id
            ):
                self._current = None
        entry.source.sign_out()
        account_id = entry.account.home_account_id
        self._persister.forget({account_id})
        self._store.clear(lambda key: getattr(key, "account", None) == account_id)
        self._notify_sign_out(entry.account)
        return entry.account

    def sign_out_mark(self, account_id: str) -> tuple[int, int]:
        """A mark that changes when `account_id` (or every account) is signed out."""
        sign_outs = self._sign_outs
        return sign_outs.get("*", 0), sign_outs.get(account_id, 0)

    def signed_out_since(self, account_id: str, mark: tuple[int, int]) -> bool:
        """Whether `account_id` was signed out since `sign_out_mark` gave `mark`."""
        return self.sign_out_mark(account_id) != mark

    def accounts(self) -> list[Account]:
        """Every account signed in in this session and not signed out, current one included."""
        with self._lock:
            return [entry.account for entry in self._known.values()]

    def use_account(self, account: Account | str) -> Account:
        """Make an account signed in earlier in this session current again (no network).

        ``account``: an `Account` or a username; unknown ones raise `ConfigurationError`.
        """
        with self._lock:
            entry = self._known_entry(account)
        self.adopt(entry.account, entry.source)
        return entry.account

    def add_sign_out_listener(self, fn: Callable[[Account | None], object]) -> None:
        """Call ``fn(account)`` after an account is signed out (``None``: all of them)."""
        with self._lock:
            self._sign_out_listeners.append(fn)

    def remove_sign_out_listener(self, fn: Callable[[Account | None], object]) -> None:
        with self._lock:
            if fn in self._sign_out_listeners:
                self._sign_out_listeners.remove(fn)

    def _notify_sign_out(self, account: Account | None) -> None:
        with self._lock:
            listeners = list(self._sign_out_listeners)
        for fn in listeners:
            try:
                fn(account)
            except Exception:  # noqa: BLE001 - a listener must not break signing out
                _LOGGER.warning("A sign-out listener raised an exception.", exc_info=True)

    def _known_entry(self, account: Account | str) -> _Current:
        if not isinstance(account, str):
            entry = self._known.get(account.home_account_id)
        else:
            wanted = account.strip().lower()
            entry = next(
                (e for e in self._known.values() if e.account.username.lower() == wanted), None
            )
        if entry is None:
            known = ", ".join(e.account.username for e in self._known.values()) or "none"
            name = account if isinstance(account, str) else account.username
            raise ConfigurationError(
                f"{name!r} is not signed in in this kernel (signed in: {known}). Run "
                f"`%azlogin` (or `nbauth.login()`) to sign it in."
            )
        return entry

    def adopt(self, account: Account, source: TokenSource) -> None:
        """Make `account` current (called by sign-in methods when a sign-in succeeds)."""
        with self._lock:
            previous, self._current = self._current, _Current(account, source)
            self._known.pop(account.home_account_id, None)  # re-insert: newest last
            self._known[account.home_account_id] = self._current
        if previous is not None:
            # Tokens of the previous account (or of this one under another authority) are
            # never asked for again under these keys.
            old_id = previous.account.home_account_id
            self._store.clear(lambda key: getattr(key, "account", None) == old_id)
        if isinstance(source, MsalAccountSource):
            # Only accounts whose tokens live in the msal cache can come back after a restart.
            self._persister.remember(account)

    def sign_in_silently(
        self,
        *,
        username: str | None = None,
        tenant: str | None = None,
        client_id: str | None = None,
        authority_host: str | None = None,
        scopes: Iterable[str] | str | None = None,
    ) -> Account | None:
        """Make an account in this session's msal cache current if that needs no interaction.

        ``username`` (default: the current account) must have signed in before, in this
        session, at this authority host with this client ID. A token for ``scopes`` (default:
        Resource Manager) is fetched silently to prove the sign-in still works. Returns the
        account, or None when a person would have to sign in. Network errors raise.

        With persistence on, a sign-in remembered from an earlier kernel counts too: with no
        ``username`` and nobody signed in, the newest remembered one (its tenant and client ID
        unless given). Under ``reauth`` no token was saved, so this returns None.
        """
        record = None
        if (username is None and self._current is None) or (
            username is not None and not self._knows(username)
        ):
            record = self.remembered_account(
                username=username, authority_host=authority_host, client_id=client_id
            )
        if record is not None:
            username = username or record.username
            tenant = tenant or record.tenant
            client_id = client_id or record.client_id
        host = (
            _clouds.normalize_authority_host(authority_host)
            if authority_host
            else self.authority_host
        )
        tenant = _clouds.validate_tenant(tenant or self._tenant or DEFAULT_TENANT)
        client_id = client_id or self._client_id or DEFAULT_CLIENT_ID
        wanted = normalize_scopes(
            scopes if scopes is not None else _clouds.cloud_for(host).arm_scope
        )
        if username is None:
            current = self.account
            if current is None:
                return None
            username = current.username
        app = self.public_client(_clouds.authority_url(host, tenant), client_id)
        candidates = app.get_accounts(username=username)
        if not candidates:
            return None
        msal_account = candidates[0]
        source = MsalAccountSource(
            self,
            authority_host=host,
            tenant=tenant,
            client_id=client_id,
            msal_account=msal_account,
        )
        try:
            fresh = launch(  # in a thread of its own: see nbauth._flight
                lambda: source.acquire(
                    wanted, tenant_id=None, claims=None, enable_cae=False, force_refresh=False
                ),
                name="nbauth-token",
            ).wait()
        except AuthenticationRequired:
            return None
        home_account_id = str(msal_account["home_account_id"])
        known = self._known.get(home_account_id)
        tid = _token_tenant(fresh.token)
        account = Account(
            username=str(msal_account.get("username") or username),
            home_account_id=home_account_id,
            tenant_id=tid or (known.account.tenant_id if known else None),
            home_tenant_id=home_account_id.split(".", 1)[1] if "." in home_account_id else tid,
            name=known.account.name if known else None,
            method=known.account.method if known else record.method if record else "cache",
            authority=f"{host}/{tenant}",
            client_id=client_id,
        )
        self.adopt(account, source)
        return account

    # -- persistence -------------------------------------------------------------------------

    @property
    def persistence(self) -> Persistence:
        """What this session keeps on disk: a `Persistence` strategy."""
        return self._persister.strategy

    def set_persistence(
        self,
        persistence: Persistence | str | None,
        *,
        allow_unencrypted: bool | None = None,
        cache_dir: str | None = None,
    ) -> None:
        """Choose what this session keeps on disk from now on (see `nbauth._persistence`).

        ``persistence`` None keeps the strategy; ``allow_unencrypted`` / ``cache_dir`` None keep
        the current setting. ``read_write`` opens the cache at once, so a refusal (no encrypted
        store and no ``allow_unencrypted``, a symbolic link, a file of another user) raises
        here, as a `ConfigurationError` that says what to do; the session is then unchanged.
        What is already in memory is saved too; switching back to none leaves the disk as is
        (a sign-out still removes this kernel's accounts from everything it saved to).
        """
        # The new persister knows where the old one saved: a later sign-out cleans there too.
        new = self._persister.replaced(
            persistence, allow_unencrypted=allow_unencrypted, cache_dir=cache_dir or None
        )
        with self._apps_lock:
            if new.saves_records:
                new.directory()  # refuse an unsafe directory now, not at the first sign-in
            if self._msal_cache is not None:
                new.apply(self._msal_cache)  # type: ignore[arg-type]
            elif new.saves_tokens:
                self._msal_cache = new.new_token_cache()
            self._persister = new
        with self._lock:
            known = list(self._known.values())  # the current account last
        for entry in known:
            if isinstance(entry.source, MsalAccountSource):
                new.remember(entry.account)

    def persistence_status(self) -> PersistenceStatus:
        """The strategy, and where and how tokens are saved (``is_encrypted``). No secret."""
        return self._persister.status(self._msal_cache)

    def remembered_account(
        self,
        *,
        username: str | None = None,
        authority_host: str | None = None,
        client_id: str | None = None,
    ) -> AccountRecord | None:
        """The newest sign-in remembered from an earlier kernel at this authority host (and
        with this client ID / username, if given); None if none or persistence is off."""
        host = (
            _clouds.normalize_authority_host(authority_host)
            if authority_host
            else self.authority_host
        )
        return self._persister.remembered(
            username=username, authority_host=host, client_id=client_id
        )

    def _knows(self, username: str) -> bool:
        wanted = username.strip().lower()
        return any(e.account.username.lower() == wanted for e in list(self._known.values()))

    # -- tokens ------------------------------------------------------------------------------

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
            return self._token(scopes, claims, tenant_id, enable_cae)
        except AuthenticationRequired as exc:
            handler = self.interaction_handler
            if handler is None or self._current is None:
                raise  # nobody to sign in again: the plain "run %azlogin" error
            if handler(
                exc, scopes=scopes, tenant_id=tenant_id, claims=claims, enable_cae=enable_cae
            ):
                return self._token(scopes, claims, tenant_id, enable_cae)
            raise

    def _token(
        self,
        scopes: tuple[str, ...],
        claims: str | None,
        tenant_id: str | None,
        enable_cae: bool,
    ) -> StoredToken:
        pending = self._pending
        if pending is not None and not pending.done():
            self._wait_for_pending(pending)
        account, mark, outcome = self.begin_token(scopes, claims, tenant_id, enable_cae)
        entry = outcome if isinstance(outcome, StoredToken) else outcome.wait()
        return self.still_signed_in(account, mark, entry)

    def begin_token(
        self,
        scopes: tuple[str, ...],
        claims: str | None,
        tenant_id: str | None,
        enable_cae: bool,
    ) -> tuple[Account, tuple[int, int], StoredToken | Flight[StoredToken]]:
        """The first half of `token` for the current account, which never blocks:
        (account, sign-out mark, the token or the acquisition in flight). Pass the first two
        and the token to `still_signed_in`. Does not wait for a pending sign-in."""
        if not scopes:
            raise ConfigurationError(
                "get_token needs at least one scope, such as 'https://management.azure.com/.default'."
            )
        current = self._current
        if current is None:
            raise AuthenticationRequired()
        if tenant_id is not None:
            _clouds.validate_tenant(tenant_id)
        account_id = current.account.home_account_id
        mark = self.sign_out_mark(account_id)
        key = TokenKey(
            tuple(sorted(scopes)), tenant_id or "", claims or "", bool(enable_cae), account_id
        )
        entry = self._store.peek(key) if not claims else None
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

        return current.account, mark, self._store.begin(key, acquire, bypass=bool(claims))

    def still_signed_in(
        self, account: Account, mark: tuple[int, int], entry: StoredToken
    ) -> StoredToken:
        """`entry`, unless `account` was signed out while it was being fetched."""
        if self.signed_out_since(account.home_account_id, mark):
            raise signed_out_meanwhile(account.username)
        return entry

    def peek_token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken | None:
        """The stored token if it is fresh and nothing else is needed; never blocks."""
        return None if claims else self.fresh_token(scopes, tenant_id, enable_cae)

    def fresh_token(
        self, scopes: tuple[str, ...], tenant_id: str | None, enable_cae: bool
    ) -> StoredToken | None:
        """`peek_token` without claims, positional: every credential's hot path.

        azure-core asks before each request, so this does as little as it can: no lock, no
        sorting of a single scope, and a plain tuple key, which hashes and compares equal to
        the `TokenKey` the store was filled with.
        """
        current = self._current
        if current is None:
            return None
        pending = self._pending
        if pending is not None and not pending.done():
            return None
        return self._store.peek(
            (
                scopes if len(scopes) == 1 else tuple(sorted(scopes)),
                tenant_id or "",
                "",
                bool(enable_cae),
                current.account.home_account_id,
            )
        )

    @staticmethod
    def _wait_for_pending(pending: SignIn) -> None:
        try:
            pending.wait()
        except AuthenticationError:
            # The pending sign-in failed; the caller proceeds with whoever is (still) signed in,
            # or gets AuthenticationRequired.
            pass

    # -- credentials -------------------------------------------------------------------------

    def credential(self) -> NotebookCredential:
        """This session's `NotebookCredential` (always the same object)."""
        with self._lock:
            if self._credential is None:
                from ._credential import NotebookCredential

                self._credential = NotebookCredential(session=self)
            return self._credential

    def async_credential(self) -> AsyncNotebookCredential:
        """This session's `AsyncNotebookCredential` (always the same object)."""
        with self._lock:
            if self._async_credential is None:
                from .aio import AsyncNotebookCredential

                self._async_credential = AsyncNotebookCredential(session=self)
            return self._async_credential

    # -- msal --------------------------------------------------------------------------------

    def http_client(self) -> requests.Session:
        with self._apps_lock:
            return self._http_client_locked()

    def _http_client_locked(self) -> requests.Session:
        if self._http is None:
            from ._http import build_http_client

            self._http = build_http_client(clock=self._store.clock)
        return self._http

    def public_client(
        self, authority: str, client_id: str, *, cae: bool = False
    ) -> msal.PublicClientApplication:
        """The msal application for (authority, client_id, cae), built once per session."""
        key = (authority, client_id, bool(cae))
        app = self._apps.get(key)
        if app is not None:
            return app
        with self._apps_lock:
            app = self._apps.get(key)
            if app is None:
                app = self._apps[key] = self._build_public_client(authority, client_id, cae)
            return app

    def _build_public_client(
        self, authority: str, client_id: str, cae: bool
    ) -> msal.PublicClientApplication:
        import msal  # Lazy load: ~120 ms, paid on the first sign-in only.
        import requests

        if self._msal_cache is None:
            self._msal_cache = self._persister.new_token_cache()
        host = authority.rsplit("/", 1)[0]
        try:
            return msal.PublicClientApplication(
                client_id,
                authority=authority,
                token_cache=self._msal_cache,
                http_client=self._http_client_locked(),
                # Anything but Microsoft's own hosts: msal would ask login.microsoftonline.com
                # to vouch for the host first.
                instance_discovery=None if _clouds.uses_instance_discovery(host) else False,
                client_capabilities=["CP1"] if cae else None,
            )
        except requests.RequestException as exc:
            raise AuthenticationError(
                f"{network_failure(host, exc)}. Check the network connection and "
                f"authority_host, then try again."
            ) from None
        except ValueError as exc:
            raise _discovery_error(authority, exc) from None
        except Exception as exc:  # noqa: BLE001 - see unexpected_msal_error
            raise unexpected_msal_error(host, exc) from None

    def forget_msal_account(self, msal_account: dict[str, Any]) -> None:
        """Remove an account's tokens from the msal cache, for every client ID in use."""
        with self._apps_lock:
            apps = list(self._apps.values())
        seen: set[str] = set()
        for app in apps:
            if app.client_id in seen:
                continue
            seen.add(app.client_id)
            app.remove_account(msal_account)

    def _forget_all_msal_accounts(self, only: set[str] | None = None) -> None:
        with self._apps_lock:
            apps = list(self._apps.values())
        for app in apps:
            for msal_account in app.get_accounts():
                if only is None or msal_account.get("home_account_id") in only:
                    app.remove_account(msal_account)

    def close(self) -> None:
        """Release the HTTP connections (the sign-in state stays)."""
        with self._apps_lock:
            if self._http is not None:
                self._http.close()


def signed_out_meanwhile(username: str) -> AuthenticationRequired:
    return AuthenticationRequired(
        f"{username} was signed out while this token was being fetched, so it was thrown away. "
        f"Run `%azlogin` (or `nbauth.login()`) to sign in again."
    )


def unexpected_msal_error(host: str, exc: Exception) -> AuthenticationError:
    """The error for anything else msal raises: MsalServiceError for an HTTP 5xx, or
    TypeError / IndexError / ... for an answer it could not parse.

    Callers raise it ``from None``: msal's frames hold the refresh token in their locals, and a
    traceback shown under ``%xmode Verbose`` prints the locals of every frame it shows.
    """
    _LOGGER.debug("msal failed talking to %s: %s", host, type(exc).__name__)
    if type(exc).__name__ == "MsalServiceError":  # msal's name for an HTTP 5xx answer
        return AuthenticationError(
            f"{host} answered with a server error ({redact(exc)[:100]}). Entra ID may be "
            f"having trouble: wait a minute and try again."
        )
    return AuthenticationError(
        f"{host} sent an answer nbauth could not use ({type(exc).__name__}). Try again; if it "
        f"persists, check authority_host."
    )


def _fresh_token(
    result: dict[str, Any], tenant: str, msal_account: Mapping[str, Any]
) -> FreshToken | None:
    """msal's success dict as a `FreshToken`, or None (the reason logged) if nbauth must not
    use it: malformed, expired, or a token of another tenant than `tenant` (the one asked for)
    means for `msal_account`; see `nbauth._token_answers`. The lifetime is clamped.

    Returns rather than raises: a frame that holds `result` (tokens) must not be in a
    traceback, which ``%xmode Verbose`` prints with the frame's arguments.
    """
    from ._token_answers import (
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


def _login_cloud(
    cloud: _clouds.Cloud | str | Mapping[str, Any] | None, authority_host: str | None
) -> _clouds.Cloud | None:
    """The cloud of ``login(cloud=...)``, checked but not yet registered; an explicit
    authority_host must agree with it."""
    if cloud is None:
        return None
    chosen = _clouds.parse_cloud(cloud)
    if authority_host and _clouds.normalize_authority_host(authority_host) != chosen.authority_host:
        raise ConfigurationError(
            f"cloud={_arguments.shown(chosen.name)} signs in at {chosen.authority_host}, but "
            f"authority_host={_arguments.shown(authority_host)} was given too. Pass one of them."
        )
    return chosen


def _token_tenant(token: str) -> str | None:
    """The ``tid`` claim of a JWT access token, read without verifying (display only)."""
    from ._token_answers import token_tenant

    return token_tenant(token)


def _discovery_error(authority: str, exc: ValueError) -> AuthenticationError:
    """msal reports a failed OIDC discovery as a ValueError whose context (the ValueError it
    replaced) holds the server's error body."""
    import json

    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        start = text.find("{")
        if start != -1:
            try:
                body = json.loads(text[start:])
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("error"):
                return from_msal_result(body)
        seen = seen.__context__
    return AuthenticationError(
        f"Entra ID did not accept the authority {authority}: {redact(exc)[:300]} Check the "
        f"tenant and authority_host."
    )


# -- the kernel's session and the module-level API ---------------------------------------------

_kernel_session: Session | None = None
_kernel_session_lock = threading.Lock()


def session() -> Session:
    """The kernel's `Session` (created on first use)."""
    global _kernel_session
    if _kernel_session is None:
        with _kernel_session_lock:
            if _kernel_session is None:
                created = Session()
                if "nbauth._magics" in sys.modules:
                    # `%load_ext nbauth` ran: a sign-in needed in the middle of a cell (revoked,
                    # MFA, claims) appears inline in that cell, as %azlogin's card does.
                    from ._reprompt import install

                    install(created)
                _kernel_session = created
    return _kernel_session


def login(
    method: str = "device_code",
    *,
    tenant: str | None = None,
    client_id: str | None = None,
    scopes: Iterable[str] | str | None = None,
    authority_host: str | None = None,
    wait: bool = True,
    timeout: float | None = None,
    prompt: Callable[[DeviceCodePrompt], object] | None = None,
    persistence: Persistence | str | None = None,
    allow_unencrypted: bool | None = None,
    cloud: _clouds.Cloud | str | Mapping[str, Any] | None = None,
    **options: Any,
) -> SignIn:
    """Sign in to Azure / Entra ID for this kernel.

    In [1]: nbauth.login()                        # device code, blocks until done
    In [2]: s = nbauth.login(wait=False); s.prompt.user_code

    ``tenant`` defaults to 'organizations', ``client_id`` to the Azure CLI's public client,
    ``authority_host`` to $AZURE_AUTHORITY_HOST or the public cloud, ``scopes`` to Azure
    Resource Manager. ``wait=True`` shows the prompt and blocks (the stop button cancels);
    ``wait=False`` returns the pending `SignIn` at once. ``prompt`` receives a
    `DeviceCodePrompt` (default: print it). ``persistence`` ("none", "read_write", "reauth")
    and ``allow_unencrypted``: stay signed in across kernel restarts; see
    `Session.set_persistence`. ``cloud``: ``"public"``, ``"china"``, ``"usgov"``, a dict or
    the path of a JSON file describing a cloud (see `nbauth._clouds`); it sets the authority
    host, the default scope and the Resource Manager endpoint. Other keyword arguments are the
    method's own
    (e.g. ``client_secret=`` for ``method="client_secret"``); a method rejects ones it does
    not know, naming them but never their values.

    Inside a Jupyter kernel, with no ``prompt``, the sign-in is shown as ``%azlogin`` shows it
    (the device-code card, then the signed-in badge) instead of printed text.
    """
    import sys

    options = HiddenValues(options)  # secrets: see nbauth._hidden
    try:
        # Checked here too: inside a kernel the display starts the sign-in and waits itself.
        timeout = _arguments.seconds(timeout)
        _arguments.flag(wait, "wait")
        kernel_session = session()
        zmqshell = sys.modules.get("ipykernel.zmqshell")  # never imported just to find out
        if prompt is None and zmqshell is not None and zmqshell.ZMQInteractiveShell.initialized():
            from ._ui.display import sign_in as show_sign_in  # Lazy load: only inside a kernel

            return show_sign_in(
                kernel_session,
                wait=wait,
                timeout=timeout,
                method=method,
                tenant=tenant,
                client_id=client_id,
                scopes=scopes,
                authority_host=authority_host,
                persistence=persistence,
                allow_unencrypted=allow_unencrypted,
                cloud=cloud,
                **options,
            )
        return kernel_session.login(
            method,
            tenant=tenant,
            client_id=client_id,
            scopes=scopes,
            authority_host=authority_host,
            wait=wait,
            timeout=timeout,
            prompt=prompt,
            persistence=persistence,
            allow_unencrypted=allow_unencrypted,
            cloud=cloud,
            **options,
        )
    except ConfigurationError as exc:
        from ._ui.display import one_line  # Lazy load

        # A refused argument is one sentence: IPython shows it without a traceback.
        raise one_line(exc) from None


def logout(all: bool = False) -> None:  # noqa: A002 - public name
    """Sign out the current account (``all=True``: every account this kernel signed in)."""
    session().logout(all=all)


def current_account() -> Account | None:
    """Who is signed in in this kernel, or None."""
    return session().account


def credential() -> NotebookCredential:
    """The kernel's `NotebookCredential`, for any Azure SDK client."""
    return session().credential()


def async_credential() -> AsyncNotebookCredential:
    """The kernel's `AsyncNotebookCredential`, for ``.aio`` Azure SDK clients."""
    return session().async_credential()


def reset_session() -> None:
    """Forget the kernel's session: cancel its pending sign-in, drop its accounts and tokens.

    For tests and for a clean slate in a long-lived kernel; the next `session()` is a new one.
    """
    global _kernel_session
    with _kernel_session_lock:
        old, _kernel_session = _kernel_session, None
    if old is not None:
        old.logout(all=True)
        old.close()
