"""Silent sign-in: an account already in the msal cache made current, with no person asked.

`Session.sign_in_silently` (``%azlogin --account``, ``auto``'s first step, a restart with
persistence) comes here. The account must have signed in before at this authority host with
this client ID: in this session, or in an earlier kernel that persistence remembers. A silent
token proves that it still works.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import _clouds
from ._methods._msal_source import MsalAccountSource, account_from_cache
from ._scopes import SignInDefaults, normalize_scopes

if TYPE_CHECKING:
    from ._account_book import AccountBook
    from ._methods._host import SessionHost
    from ._persistence import Persister
    from ._signin import Account

__all__ = ["from_cache"]


def from_cache(
    session: SessionHost,
    book: AccountBook,
    persister: Persister,
    defaults: SignInDefaults,
    *,
    username: str | None,
    tenant: str | None,
    client_id: str | None,
    authority_host: str | None,
    scopes: Iterable[str] | str | None,
) -> tuple[Account, MsalAccountSource] | None:
    """The account and its token source, or None when a person would have to sign in (see
    `Session.sign_in_silently` for the arguments). Network errors raise."""
    host = defaults.host(authority_host)
    record = None
    if (username is None and book.current is None) or (
        username is not None and not book.knows(username)
    ):
        record = persister.remembered(username=username, authority_host=host, client_id=client_id)
    if record is not None:
        username = username or record.username
        tenant = tenant or record.tenant
        client_id = client_id or record.client_id
    wanted = normalize_scopes(scopes if scopes is not None else _clouds.cloud_for(host).arm_scope)
    if username is None:
        current = book.current
        if current is None:
            return None
        username = current.account.username
    return account_from_cache(
        session,
        authority_host=host,
        tenant=defaults.tenant_for(tenant),
        client_id=defaults.client_id_for(client_id),
        username=username,
        scopes=wanted,
        known=book.account_for,
        method=record.method if record else "cache",
    )
