"""Who is signed in in a session: every account since it started, the current one, and how
often each was signed out.

Switching back to an account signed in earlier needs no network: its token source is kept
here. The sign-out marks let work that started before a sign-out notice it and throw its
tokens away (a sign-out wins against every refresh in flight).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ._base_errors import ConfigurationError
from ._methods._host import TokenSource
from ._signin import Account

__all__ = ["AccountBook", "SignedIn"]

_LOGGER = logging.getLogger("nbauth")
_EVERY_ACCOUNT = "*"


@dataclass(frozen=True)
class SignedIn:
    """An account and where its tokens come from."""

    account: Account
    source: TokenSource


class AccountBook:
    """See the module docstring. Thread-safe; `current` is read without a lock (hot path)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.current: SignedIn | None = None
        self._known: dict[str, SignedIn] = {}  # by home_account_id, newest last
        self._logouts: dict[str, int] = {}
        self._listeners: list[Callable[[Account | None], object]] = []

    def __repr__(self) -> str:
        return f"<AccountBook {len(self._known)} accounts>"

    # -- reading -------------------------------------------------------------------------------

    def accounts(self) -> list[Account]:
        with self._lock:
            return [entry.account for entry in self._known.values()]

    def entries(self) -> list[SignedIn]:
        """Every account with its source, the current one last."""
        with self._lock:
            return list(self._known.values())

    def account_for(self, account_id: str) -> Account | None:
        entry = self._known.get(account_id)
        return entry.account if entry is not None else None

    def knows(self, username: str) -> bool:
        return self._by_username(username) is not None

    def find(self, account: Account | str) -> SignedIn:
        """The entry of an `Account` or a username; `ConfigurationError` naming who is signed
        in if it is not one of them."""
        if isinstance(account, str):
            entry = self._by_username(account)
        else:
            entry = self._known.get(account.home_account_id)
        if entry is None:
            known = ", ".join(e.account.username for e in self.entries()) or "none"
            name = account if isinstance(account, str) else account.username
            raise ConfigurationError(
                f"{name!r} is not signed in in this kernel (signed in: {known}). Run "
                f"`%azlogin` (or `nbauth.login()`) to sign it in."
            )
        return entry

    def _by_username(self, username: str) -> SignedIn | None:
        wanted = username.strip().lower()
        return next((e for e in self.entries() if e.account.username.lower() == wanted), None)

    # -- changing ------------------------------------------------------------------------------

    def adopt(self, account: Account, source: TokenSource) -> SignedIn | None:
        """Make `account` current; returns the entry that was current before."""
        with self._lock:
            previous, self.current = self.current, SignedIn(account, source)
            self._known.pop(account.home_account_id, None)  # re-insert: newest last
            self._known[account.home_account_id] = self.current
        return previous

    def remove(self, account: Account | str) -> SignedIn:
        """Forget one account (current or not), marking it signed out."""
        with self._lock:
            entry = self.find(account)
            account_id = entry.account.home_account_id
            self._known.pop(account_id, None)
            self._logouts[account_id] = self._logouts.get(account_id, 0) + 1
            current = self.current
            if current is not None and current.account.home_account_id == account_id:
                self.current = None
        return entry

    def clear(self) -> set[str]:
        """Forget every account, marking all signed out; returns their home_account_ids."""
        with self._lock:
            self.current = None
            ids = set(self._known)
            self._known.clear()
            self._logouts[_EVERY_ACCOUNT] = self._logouts.get(_EVERY_ACCOUNT, 0) + 1
        return ids

    # -- sign-out marks and listeners ------------------------------------------------------------

    def mark(self, account_id: str) -> tuple[int, int]:
        """A mark that changes when `account_id` (or every account) is signed out."""
        logouts = self._logouts
        return logouts.get(_EVERY_ACCOUNT, 0), logouts.get(account_id, 0)

    def add_listener(self, fn: Callable[[Account | None], object]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def notify_logout(self, account: Account | None) -> None:
        """Tell the listeners (``None``: every account was signed out)."""
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(account)
            except Exception:  # noqa: BLE001 - a listener must not break signing out
                _LOGGER.warning("A sign-out listener raised an exception.", exc_info=True)
