"""The accounts this kernel has signed in, and switching between them.

Every account a person signs in with stays in the session (its refresh token in the session's
msal cache), so switching back to it needs no new sign-in. `accounts` lists them, `use_account`
makes one current, `logout_account` signs one out. The session does the work
(`Session.accounts`, `Session.use_account`, `Session.logout_account`); these are the kernel-level
functions and the lookup by username or home account ID that the magics and pickers share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import ConfigurationError
from ._kernel import session_or_default
from ._signin import Account

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["accounts", "find_account", "logout_account", "use_account"]


def _sorted(found: list[Account]) -> list[Account]:
    return sorted(found, key=lambda a: a.username.lower())


def accounts(*, session: Session | None = None) -> list[Account]:
    """The accounts signed in in this kernel, by username.

    In [1]: [a.username for a in nbauth.accounts()]
    Out[1]: ['alice@contoso.example', 'carol@fabrikam.example']

    The current one is ``nbauth.current_account()``. Holds no token.
    """
    return _sorted(session_or_default(session).accounts())


def find_account(who: str | Account, *, session: Session | None = None) -> Account:
    """The signed-in account with this username or home account ID (any case).

    Raises `ConfigurationError` naming the accounts there are.
    """
    found = accounts(session=session)
    if isinstance(who, Account):
        matches = [a for a in found if a.home_account_id == who.home_account_id]
    else:
        text = str(who).strip().lower()
        matches = [a for a in found if text in (a.username.lower(), a.home_account_id.lower())]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(a.username for a in found) or "none"
    raise ConfigurationError(
        f"No account {str(who)!r} is signed in in this kernel. Known accounts: {known}. "
        f"Sign in with another account with `%azlogin` (or `nbauth.login()`)."
    )


def use_account(username: str | Account, *, session: Session | None = None) -> Account:
    """Make an account this kernel signed in before the current one; no sign-in needed.

    In [1]: nbauth.use_account("carol@fabrikam.example")

    Every credential of this kernel then gets tokens for that account, and
    ``nbauth.subscription_id()`` is the one chosen for it. Raises `ConfigurationError` naming
    the known accounts if there is no such account.
    """
    s = session_or_default(session)
    account = find_account(username, session=s)
    current = s.account
    if current is not None and current.home_account_id == account.home_account_id:
        return current
    return s.use_account(account)


def logout_account(username: str | Account, *, session: Session | None = None) -> Account:
    """Sign one account out of this kernel (current or not); returns it.

    In [1]: nbauth.logout_account("carol@fabrikam.example")

    Its tokens leave the cache, and the subscription chosen for it is forgotten. Signing out
    the current account leaves nobody current: use `use_account` or `%azlogin` next.
    """
    s = session_or_default(session)
    return s.logout_account(find_account(username, session=s))
