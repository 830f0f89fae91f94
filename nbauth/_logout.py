"""Signing out: everything this kernel holds for an account, forgotten in one place.

An account lives in four places: the account book (who is signed in, with which token source),
the msal cache (in memory and, with persistence, on disk), the records persistence keeps for the
next kernel, and the token store. Signing out clears all four, then tells the listeners (the
subscription choice goes with the account). The sign-out mark the book moves makes a token
fetched across the sign-out worthless (`nbauth._session_tokens`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._account_book import AccountBook
    from ._msal_apps import MsalApps
    from ._session_tokens import TokenPath
    from ._signin import Account

__all__ = ["logout_account", "logout_everyone"]


def logout_account(
    book: AccountBook, msal: MsalApps, tokens: TokenPath, account: Account | str
) -> Account:
    """Forget one account (current or not); ``account``: an `Account` or a username."""
    entry = book.remove(account)
    entry.source.logout()
    account_id = entry.account.home_account_id
    msal.persister.forget({account_id})
    tokens.store.clear(lambda key: getattr(key, "account", None) == account_id)
    book.notify_logout(entry.account)
    return entry.account


def logout_everyone(book: AccountBook, msal: MsalApps, tokens: TokenPath) -> None:
    """Forget every account this kernel knows; a pending sign-in is cancelled first."""
    pending = tokens.pending
    if pending is not None:
        pending.cancel()
    known_ids = book.clear()
    msal.persister.forget(known_ids)
    # A saved cache also holds other kernels' sign-ins: those are not this kernel's to end.
    msal.forget_accounts(known_ids if msal.persister.saves_tokens else None)
    tokens.store.clear()
    book.notify_logout(None)
