"""The kernel's sign-in state.

One `Session` per kernel holds everything that must survive from one cell to the next: the msal
applications and their token cache (`nbauth._msal_apps`), every account signed in and the
current one (`nbauth._account_book`), a pending sign-in, and the token path that makes
``get_token`` cheap (`nbauth._session_tokens`). Signing out is `nbauth._logout`; a silent
sign-in, `nbauth._silent_sign_in`. Credentials, magics and widgets all ask the session; none of
them keeps a token of its own.

Tests construct their own ``Session()`` so they share nothing; notebooks use
`nbauth._kernel.session()`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _arguments, _clouds, _log_redaction
from ._account_book import AccountBook
from ._credential import NotebookCredential
from ._errors import SignInCancelled
from ._hidden import HiddenValues
from ._logout import logout_account, logout_everyone
from ._methods import SignInRequest, Start, resolve
from ._methods._host import TokenSource
from ._methods._msal_source import MsalAccountSource
from ._methods._paste_back import RefusedTenants
from ._methods._request import build_request
from ._msal_apps import MsalApps
from ._persistence import AccountRecord, Persistence, PersistenceStatus, Persister
from ._scopes import SignInDefaults
from ._session_tokens import TokenPath
from ._signin import Account, SignIn, SignInReport, cancelled_text, wait_or_cancel
from ._silent_sign_in import from_cache
from ._subscription_records import SubscriptionChoices
from ._token_store import StoredToken
from .aio import AsyncNotebookCredential

if TYPE_CHECKING:
    import msal
    import requests

    from ._prompt import Prompt

__all__ = ["Session"]

class Session:
    """The kernel's sign-in state. See the module docstring.

    ``authority_host``, ``tenant``, ``client_id``: defaults for `login`; ``clock``: the token
    store's (tests move it instead of sleeping). ``persistence`` (default ``$NBAUTH_PERSIST``,
    else none), ``allow_unencrypted``, ``cache_dir``: see `nbauth._persistence`.
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
        self.defaults = SignInDefaults.checked(authority_host, tenant, client_id)
        """What `login` and `sign_in_silently` use for what a call leaves out."""
        self._lock = threading.RLock()
        # Nothing is opened or imported until the first sign-in needs it.
        self._msal = MsalApps(
            Persister(persistence, allow_unencrypted=allow_unencrypted, cache_dir=cache_dir),
            clock,
        )
        # msal's and azure-core's own logs can hold tokens: redact them (see _log_redaction).
        _log_redaction.install()
        self._book = AccountBook()
        self.tokens = TokenPath(self._book, clock)
        """The token path (`nbauth._session_tokens`): what credentials ask for tokens."""
        self._credential: NotebookCredential | None = None
        self._async_credential: AsyncNotebookCredential | None = None
        self.last_auto_report: SignInReport | None = None
        """What the latest ``auto`` sign-in tried (`nbauth.last_auto_report()`)."""
        self.person_method: str | None = None  # see _methods._paste_back.prefers_browser
        self.device_code_refusals = RefusedTenants(lambda: self._msal.persister)
        self.subscription_choices = SubscriptionChoices()
        """The subscription chosen per account (`nbauth._subscriptions`); gone on sign-out."""
        self.add_logout_listener(self.subscription_choices.logged_out)


    @property
    def account(self) -> Account | None:
        """The signed-in account, or None."""
        current = self._book.current
        return current.account if current is not None else None

    @property
    def pending(self) -> SignIn | None:
        """The sign-in in progress, if any."""
        pending = self.tokens.pending
        return pending if pending is not None and not pending.done() else None

    @property
    def authority_host(self) -> str:
        """The default authority host: as given, else ``$AZURE_AUTHORITY_HOST``, else public."""
        return self.defaults.host()

    @property
    def cloud(self) -> _clouds.Cloud:
        """The current account's cloud (it may have signed in with ``cloud=``), else the
        default authority host's."""
        account = self.account
        if account is not None and "://" in account.authority:
            return _clouds.cloud_for(account.authority_pair.host)
        return _clouds.cloud_for(self.authority_host)

    def __repr__(self) -> str:
        who = self.account.username if self.account else None
        return f"<nbauth.Session account={who!r} pending={self.pending!r}>"

    def __getstate__(self) -> object:
        raise TypeError(
            "An nbauth Session is live state of this kernel and cannot be pickled. "
            "Give other processes nbauth.worker_credential(scope) instead."
        )


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
        prompt: Callable[[Prompt], object] | None = None,
        notice: Callable[[str], object] | None = None,
        claims: str | None = None,
        persistence: Persistence | str | None = None,
        allow_unencrypted: bool | None = None,
        cloud: _clouds.Cloud | str | Mapping[str, Any] | None = None,
        **options: Any,
    ) -> SignIn:
        """Start a sign-in; see `nbauth.login`.

        ``claims``: a claims challenge (from a resource's 401, or an `InteractionRequired`) that
        the new sign-in must satisfy. ``notice``: how a method tells the person something on
        the way (default: print it). ``persistence`` / ``allow_unencrypted``: see
        `set_persistence` (None: leave as is). ``options``: method-specific arguments, handed
        to the method as `SignInRequest.options` (read-only; never echoed).
        """
        options = HiddenValues(options)  # secrets: see nbauth._hidden
        # Every argument is checked before anything changes. A method checks its own options
        # in `start`: a refusal there still leaves the pending sign-in and the cloud registry
        # alone (see below), but not a persistence chosen here.
        timeout = _arguments.seconds(timeout)
        _arguments.flag(wait, "wait")
        strategy = Persistence.parse(persistence) if persistence is not None else None
        allow = _arguments.optional_flag(allow_unencrypted, "allow_unencrypted")
        request, chosen = build_request(
            method,
            defaults=self.defaults,
            tenant=tenant,
            client_id=client_id,
            scopes=scopes,
            authority_host=authority_host,
            cloud=cloud,
            prompt=prompt,
            notice=notice,
            claims=claims,
            options=options,
        )
        start = resolve(request.method)
        with self.persistence_undone_on_failure():
            if strategy is not None or allow is not None:
                self.set_persistence(strategy, allow_unencrypted=allow)
            else:
                self._msal.persister.check()  # a bad $NBAUTH_PERSIST*: said before a sign-in
            return self._start(start, request, chosen, wait, timeout)

    def persistence_undone_on_failure(self) -> contextlib.AbstractContextManager[None]:
        """A sign-in that fails or is refused changes nothing: the persistence chosen for it
        inside this block goes back to what it was."""
        return self._msal.persistence_undone_on_failure()

    def _start(
        self,
        start: Start,
        request: SignInRequest,
        chosen: _clouds.Cloud | None,
        wait: bool,
        timeout: float | None,
    ) -> SignIn:
        # The newest sign-in wins, once it exists: a method that refuses its arguments (or
        # fails to start) leaves a pending sign-in alone. See also track_pending.
        try:
            with _clouds.registered(chosen):  # the session follows this cloud (ARM, scopes)
                signin = start(self, request)
        except KeyboardInterrupt:
            # The stop button while `start` ran: methods register their sign-in through
            # track_pending() before anything runs in the background, so it is the pending one.
            target = self.pending
            if target is not None:
                target.cancel()
            raise SignInCancelled(cancelled_text(self.account)) from None
        self.track_pending(signin)
        if wait:
            wait_or_cancel(signin, timeout, lambda: self.account)
        return signin

    def track_pending(self, signin: SignIn) -> None:
        """Record `signin` as this session's pending sign-in (sign-in methods call this as soon
        as the SignIn exists, before showing the prompt or starting a thread); the one it
        replaces is cancelled: the newest sign-in wins."""
        with self._lock:
            previous, self.tokens.pending = self.tokens.pending, signin
        if previous is not None and previous is not signin:
            previous.cancel()

    def logout(self, all: bool = False) -> None:  # noqa: A002 - the public name
        """Sign out the current account (``all=True``: every account this kernel knows)."""
        if all:
            logout_everyone(self._book, self._msal, self.tokens)
        elif self._book.current is not None:
            self.logout_account(self._book.current.account)

    def logout_account(self, account: Account | str) -> Account:
        """Forget one account (current or not): an `Account` or a username. Returns it."""
        return logout_account(self._book, self._msal, self.tokens, account)

    def logout_mark(self, account_id: str) -> tuple[int, int]:
        """A mark that changes when `account_id` (or every account) is signed out."""
        return self._book.mark(account_id)

    def logged_out_since(self, account_id: str, mark: tuple[int, int]) -> bool:
        """Whether `account_id` was signed out since `logout_mark` gave `mark`."""
        return self._book.mark(account_id) != mark

    def accounts(self) -> list[Account]:
        """Every account signed in in this session and not signed out, current one included."""
        return self._book.accounts()

    def use_account(self, account: Account | str) -> Account:
        """Make an account signed in earlier in this session current again (no network).

        ``account``: an `Account` or a username; unknown ones raise `ConfigurationError`.
        """
        entry = self._book.find(account)
        self.adopt(entry.account, entry.source)
        return entry.account

    def add_logout_listener(self, fn: Callable[[Account | None], object]) -> None:
        """Call ``fn(account)`` after an account is signed out (``None``: all of them)."""
        self._book.add_listener(fn)

    def adopt(self, account: Account, source: TokenSource) -> None:
        """Make `account` current (called by sign-in methods when a sign-in succeeds)."""
        previous = self._book.adopt(account, source)
        if previous is not None:
            # Tokens of the previous account (or of this one under another authority) are
            # never asked for again under these keys.
            old_id = previous.account.home_account_id
            self.tokens.store.clear(lambda key: getattr(key, "account", None) == old_id)
        if isinstance(source, MsalAccountSource):
            # Only accounts whose tokens live in the msal cache can come back after a restart.
            self._msal.persister.remember(account)

    def sign_in_silently(
        self,
        *,
        username: str | None = None,
        tenant: str | None = None,
        client_id: str | None = None,
        authority_host: str | None = None,
        scopes: Iterable[str] | str | None = None,
    ) -> Account | None:
        """Make an account that signed in before current again, if no person is needed
        (`nbauth._silent_sign_in`): ``username`` (default: the current account, else the one
        persistence remembers), proven by a silent token for ``scopes`` (default: Resource
        Manager). Returns the account, or None when a person would have to sign in."""
        found = from_cache(
            self,
            self._book,
            self._msal.persister,
            self.defaults,
            username=username,
            tenant=tenant,
            client_id=client_id,
            authority_host=authority_host,
            scopes=scopes,
        )
        if found is None:
            return None
        self.adopt(*found)
        return found[0]


    @property
    def persistence(self) -> Persistence:
        """What this session keeps on disk: a `Persistence` strategy."""
        return self._msal.persister.strategy

    def set_persistence(
        self,
        persistence: Persistence | str | None,
        *,
        allow_unencrypted: bool | None = None,
        cache_dir: str | None = None,
    ) -> None:
        """Choose what this session keeps on disk from now on (`nbauth._persistence`); None
        keeps a setting. A refusal (``read_write`` with no encrypted store and no
        ``allow_unencrypted``, a symbolic link, another user's file) raises `ConfigurationError`
        and changes nothing. What is in memory is saved too; back to none leaves the disk as is.
        """
        self._msal.choose_persistence(
            persistence,
            allow_unencrypted=allow_unencrypted,
            cache_dir=cache_dir,
            # Only accounts whose tokens live in the msal cache can come back after a restart.
            remember=[
                e.account for e in self._book.entries() if isinstance(e.source, MsalAccountSource)
            ],
        )

    def persistence_status(self) -> PersistenceStatus:
        """The strategy, and where and how tokens are saved (``is_encrypted``). No secret."""
        return self._msal.status()

    def remembered_account(
        self,
        *,
        username: str | None = None,
        authority_host: str | None = None,
        client_id: str | None = None,
    ) -> AccountRecord | None:
        """The newest sign-in remembered from an earlier kernel at this authority host (and
        with this client ID / username, if given); None if none or persistence is off."""
        return self._msal.persister.remembered(
            username=username, authority_host=self.defaults.host(authority_host), client_id=client_id
        )


    def token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken:
        """A token for the current account (see `TokenPath.token`)."""
        return self.tokens.token(scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae)

    def peek_token(
        self,
        scopes: tuple[str, ...],
        *,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
    ) -> StoredToken | None:
        """The stored token if it is fresh and nothing else is needed; never blocks."""
        return None if claims else self.tokens.fresh(scopes, tenant_id, enable_cae)


    def credential(self) -> NotebookCredential:
        """This session's `NotebookCredential` (always the same object)."""
        with self._lock:
            self._credential = self._credential or NotebookCredential(session=self)
            return self._credential

    def async_credential(self) -> AsyncNotebookCredential:
        """This session's `AsyncNotebookCredential` (always the same object)."""
        with self._lock:
            self._async_credential = self._async_credential or AsyncNotebookCredential(session=self)
            return self._async_credential

    # What methods may use of msal (nbauth._methods._host):
    def http_client(self) -> requests.Session:
        return self._msal.http_client()

    def public_client(
        self, authority: str, client_id: str, *, cae: bool = False
    ) -> msal.PublicClientApplication:
        """The msal application for (authority, client_id, cae), built once per session."""
        return self._msal.public_client(authority, client_id, cae=cae)

    def forget_msal_account(self, msal_account: dict[str, Any]) -> None:
        """Remove an account's tokens from the msal cache, for every client ID in use."""
        self._msal.forget_account(msal_account)

    def close(self) -> None:
        """Release the HTTP connections (the sign-in state stays)."""
        self._msal.close()
