"""The subscription this kernel works in: chosen per account, by ID or name, among those the
signed-in account can see (listed by `nbauth._subscription_listing`).

Choosing a subscription in a tenant that wants the person back (multi-factor authentication, a
revoked sign-in, a policy) needs a sign-in to that tenant. Shown how? That is the caller's to
say, and this module does not know any UI: a ``prompt`` (shows the device code; tests, custom
views) or an ``interactive_sign_in`` (`TenantSignIn`: ``%azsubscription`` passes the card of
``%azlogin``). Given neither, or ``interactive=False``, `AuthenticationRequired` says what to
run instead.

The chosen subscription is kept per account on the session (``Session.subscription_choices``):
switching accounts switches subscriptions, and signing an account out (``nbauth.logout``,
``%azlogout``, ``%azaccount --logout``) forgets its choice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from ._errors import AuthenticationRequired, ConfigurationError
from ._kernel_setup import session_or_default
from ._subscription_listing import (
    known_tenants,
    list_all,
    require_account,
    resolve_tenant,
    skipped_message,
    tenant_names,
    tenant_subscriptions,
    tenant_token_silently,
    tenants,
)
from ._subscription_records import SkippedTenant, Subscription, SubscriptionListing, Tenant

if TYPE_CHECKING:
    from ._prompt import Prompt as PersonPrompt
    from ._session import Session
    from ._signin import SignIn

__all__ = [
    "Subscription",
    "SubscriptionListing",
    "SkippedTenant",
    "Tenant",
    "TenantSignIn",
    "choose",
    "clear_subscription",
    "current_subscription",
    "ensure_tenant_access",
    "find_subscription",
    "forget_account",
    "known_tenants",
    "list_all",
    "resolve_tenant",
    "set_subscription",
    "sign_in_to_tenant",
    "skipped_message",
    "subscription_id",
    "subscriptions",
    "tenant_names",
    "tenant_subscriptions",
    "tenant_token_silently",
    "tenants",
]

Prompt = Callable[["PersonPrompt"], object]


class TenantSignIn(Protocol):
    """A blocking sign-in to one tenant, shown the way the caller shows sign-ins; raises its
    failure. `nbauth._ui.display.sign_in` (with ``functools.partial`` for its ``ui``) is one."""

    def __call__(
        self,
        session: Session,
        *,
        tenant: str,
        authority_host: str | None,
        account_hint: str,
        reason: str,
    ) -> object: ...


# -- the chosen subscription ----------------------------------------------------------------


def current_subscription(session: Session | None = None) -> Subscription | None:
    """The subscription chosen for the current account (``%azsubscription``), or None."""
    s = session_or_default(session)
    account = s.account
    if account is None:
        return None
    return s.subscription_choices.chosen(account.home_account_id)


def subscription_id(session: Session | None = None) -> str | None:
    """The ID of the subscription chosen for the current account, or None.

    In [1]: ResourceManagementClient(nbauth.credential(), nbauth.subscription_id())
    """
    chosen = current_subscription(session)
    return chosen.subscription_id if chosen is not None else None


def clear_subscription(session: Session | None = None) -> None:
    """Forget the subscription chosen for the current account."""
    s = session_or_default(session)
    account = s.account
    if account is not None:
        forget_account(s, account.home_account_id)


def forget_account(session: Session, home_account_id: str | None) -> None:
    """Forget what was chosen for an account (None: for every account)."""
    session.subscription_choices.forget(home_account_id)


def _remember(session: Session, subscription: Subscription) -> None:
    account = session.account
    if account is None:  # signed out meanwhile (another thread): nothing to attach it to
        raise AuthenticationRequired()
    session.subscription_choices.choose(account.home_account_id, subscription)


# -- signing in to a tenant -----------------------------------------------------------------


def _authority_host(session: Session) -> str | None:
    account = session.account
    return (account.authority_pair.host or None) if account else None


def sign_in_to_tenant(
    session: Session,
    tenant_id: str,
    *,
    prompt: Prompt | None = None,
    wait: bool = True,
) -> SignIn:
    """Start a device-code sign-in to one tenant, at the current account's authority host."""
    return session.login(
        tenant=tenant_id, authority_host=_authority_host(session), prompt=prompt, wait=wait
    )


def ensure_tenant_access(
    session: Session,
    tenant: Tenant | str,
    *,
    interactive: bool = True,
    prompt: Prompt | None = None,
    interactive_sign_in: TenantSignIn | None = None,
) -> bool:
    """Make sure the current account has an ARM token for `tenant`; True if it had to sign in.

    Silent first. If Entra ID wants the person and `interactive`, a blocking device-code
    sign-in to that tenant runs, saying why: `prompt` shows the code if given, else
    `interactive_sign_in` shows the whole sign-in (``%azsubscription``'s card). With neither,
    or not `interactive`, raises `AuthenticationRequired` saying what to run.
    """
    tenant_id = tenant.tenant_id if isinstance(tenant, Tenant) else str(tenant).lower()
    label = tenant.label if isinstance(tenant, Tenant) else tenant_id
    account = require_account(session)
    if tenant_token_silently(session, tenant_id):
        return False
    why = (
        f"Tenant {label} needs {account.username} to sign in again (multi-factor "
        f"authentication, a policy, or an expired sign-in)."
    )
    if interactive and prompt is not None:
        sign_in_to_tenant(session, tenant_id, prompt=prompt, wait=True)
    elif interactive and interactive_sign_in is not None:
        interactive_sign_in(
            session,
            tenant=tenant_id,
            authority_host=_authority_host(session),
            account_hint=account.username,
            reason=why,
        )
    else:
        raise AuthenticationRequired(
            f"{why} Run `%azsubscription --tenant {tenant_id}` in a cell to sign in to it (or "
            f"pass prompt= to show the device code yourself)."
        )
    if not tenant_token_silently(session, tenant_id):
        raise AuthenticationRequired(
            f"{why} The sign-in finished but Entra ID still asks for more; run "
            f"`%azlogin --tenant {tenant_id}`."
        )
    return True


# -- choosing -------------------------------------------------------------------------------


def subscriptions(
    tenant: str | Tenant | None = None,
    *,
    session: Session | None = None,
    interactive: bool = True,
    prompt: Prompt | None = None,
    interactive_sign_in: TenantSignIn | None = None,
) -> list[Subscription]:
    """The subscriptions the current account can use, from ARM ``/subscriptions``.

    In [1]: nbauth.subscriptions()                      # every tenant reachable silently
    In [2]: nbauth.subscriptions(tenant="fabrikam.example")

    ``tenant`` (ID, domain or name): only that tenant; if it needs the person to sign in again,
    see `ensure_tenant_access` (``prompt``: show the device code yourself). Without ``tenant``,
    tenants that need a new sign-in are skipped with a warning.
    """
    s = session_or_default(session)
    if tenant is None:
        listing = list_all(session=s)
        if listing.skipped:
            warnings.warn(skipped_message(listing.skipped), stacklevel=2)
        return list(listing.subscriptions)
    chosen = resolve_tenant(tenant, session=s)
    ensure_tenant_access(
        s, chosen, interactive=interactive, prompt=prompt, interactive_sign_in=interactive_sign_in
    )
    return tenant_subscriptions(s, chosen)


def _describe(subs: Iterable[Subscription]) -> str:
    return "; ".join(
        f"{sub.display_name} ({sub.subscription_id}, tenant {sub.tenant_name or sub.tenant_id})"
        for sub in subs
    )


def find_subscription(
    id_or_name: str, candidates: Iterable[Subscription], skipped: Iterable[SkippedTenant] = ()
) -> Subscription:
    """The one subscription `id_or_name` names among `candidates`.

    By ID, else by exact display name, else by a unique part of a name (all case-insensitive).
    Several matches or none raise `ConfigurationError` listing them / the accepted values.
    """
    text = str(id_or_name).strip()
    wanted = text.lower().removeprefix("/subscriptions/")
    subs = list(candidates)
    if not wanted:
        raise ConfigurationError("Give a subscription ID or name.")
    for matches in (
        [s for s in subs if s.subscription_id == wanted],
        [s for s in subs if s.display_name.lower() == wanted],
        [s for s in subs if wanted in s.display_name.lower()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigurationError(
                f"{text!r} matches {len(matches)} subscriptions: {_describe(matches)}. "
                f"Use the subscription ID."
            )
    hint = skipped_message(skipped)
    raise ConfigurationError(
        f"No subscription {text!r}. Accepted: a subscription ID or name of: "
        f"{_describe(subs) or 'none (this account sees no subscriptions)'}."
        + (f"\n{hint}" if hint else "")
    )


def choose(
    subscription: Subscription,
    *,
    session: Session | None = None,
    interactive: bool = True,
    prompt: Prompt | None = None,
    interactive_sign_in: TenantSignIn | None = None,
) -> Subscription:
    """Make `subscription` the current account's subscription, after making sure its tenant
    gives a token (silently, else a sign-in; see `ensure_tenant_access`)."""
    s = session_or_default(session)
    ensure_tenant_access(
        s,
        Tenant(subscription.tenant_id, subscription.tenant_name or subscription.tenant_id),
        interactive=interactive,
        prompt=prompt,
        interactive_sign_in=interactive_sign_in,
    )
    _remember(s, subscription)
    return subscription


def set_subscription(
    id_or_name: str,
    *,
    tenant: str | Tenant | None = None,
    session: Session | None = None,
    interactive: bool = True,
    prompt: Prompt | None = None,
    interactive_sign_in: TenantSignIn | None = None,
) -> Subscription:
    """Choose the subscription this kernel works in, by ID or name; returns it.

    In [1]: nbauth.set_subscription("Contoso Data Science")
    In [2]: nbauth.subscription_id()
    Out[2]: 'c0a50002-0000-4000-8000-000000000002'

    A name may be any unique part of one. ``tenant`` narrows the search to one tenant (and
    signs in to it if it needs that). A subscription in another tenant than the sign-in's gets
    a token for that tenant silently where possible; else a device-code sign-in runs if you say
    how to show it (``prompt``: your own callable; ``interactive_sign_in``: see
    `ensure_tenant_access`), or `AuthenticationRequired` names ``%azsubscription``, which shows
    it as ``%azlogin`` does.
    """
    s = session_or_default(session)
    if tenant is not None:
        chosen_tenant = resolve_tenant(tenant, session=s)
        ensure_tenant_access(
            s,
            chosen_tenant,
            interactive=interactive,
            prompt=prompt,
            interactive_sign_in=interactive_sign_in,
        )
        candidates: list[Subscription] = tenant_subscriptions(s, chosen_tenant)
        skipped: tuple[SkippedTenant, ...] = ()
    else:
        listing = list_all(session=s)
        candidates, skipped = list(listing.subscriptions), listing.skipped
    found = find_subscription(id_or_name, candidates, skipped)
    return choose(
        found,
        session=s,
        interactive=interactive,
        prompt=prompt,
        interactive_sign_in=interactive_sign_in,
    )
