"""The tenants of the signed-in account and their subscriptions, as Azure Resource Manager lists
them (``GET /tenants``, ``GET /subscriptions``), with the session's credential.

ARM lists the subscriptions of one tenant per token, so listing "all" asks each tenant of the
account for a token, silently (the refresh token works across the tenants the account belongs
to). A tenant that wants the person back (multi-factor authentication, a revoked sign-in, a
policy) is reported as skipped, never prompted for: signing in to it is `nbauth._subscriptions`'
job. The tenant list is kept on the session (`SubscriptionChoices`) for names in messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._arm import ResourceManagerClient
from ._errors import AuthenticationError, AuthenticationRequired, ConfigurationError
from ._kernel_setup import session_or_default
from ._subscription_records import SkippedTenant, Subscription, SubscriptionListing, Tenant

if TYPE_CHECKING:
    from ._session import Session
    from ._signin import Account

__all__ = [
    "known_tenants",
    "list_all",
    "require_account",
    "resolve_tenant",
    "skipped_message",
    "tenant_names",
    "tenant_subscriptions",
    "tenant_token_silently",
    "tenants",
    "token_tenant",
]

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def require_account(session: Session) -> Account:
    """The signed-in account (after a pending sign-in ends), or `AuthenticationRequired`."""
    pending = session.pending
    if pending is not None:
        try:
            pending.wait()
        except Exception:  # noqa: BLE001 - the account check below says what to do
            pass
    account = session.account
    if account is None:
        raise AuthenticationRequired(
            "No Azure account is signed in in this kernel, so there are no subscriptions to "
            "list. Run `%azlogin` (or `nbauth.login()`) first."
        )
    return account


# -- tenants --------------------------------------------------------------------------------


def _tenant_from_arm(item: dict[str, Any]) -> Tenant | None:
    tenant_id = str(item.get("tenantId") or "").lower()
    if not tenant_id:
        return None
    domains = item.get("domains")
    return Tenant(
        tenant_id=tenant_id,
        display_name=str(item.get("displayName") or tenant_id),
        default_domain=str(item["defaultDomain"]) if item.get("defaultDomain") else None,
        domains=tuple(str(d) for d in domains) if isinstance(domains, list) else (),
        category=str(item["tenantCategory"]) if item.get("tenantCategory") else None,
        country_code=str(item["countryCode"]) if item.get("countryCode") else None,
    )


def tenants(*, session: Session | None = None) -> list[Tenant]:
    """The tenants the current account belongs to (home and guest), from ARM ``/tenants``.

    In [1]: [t.display_name for t in nbauth.tenants()]
    Out[1]: ['Contoso', 'Fabrikam']
    """
    s = session_or_default(session)
    account = require_account(s)
    with ResourceManagerClient(s, tenant_id=None) as arm:
        found = [t for t in map(_tenant_from_arm, arm.list("/tenants")) if t is not None]
    home = account.home_tenant_id or account.tenant_id
    found.sort(key=lambda t: (t.tenant_id != home, t.display_name.lower()))
    s.subscription_choices.remember_tenants(account.home_account_id, tuple(found))
    return found


def known_tenants(session: Session, home_account_id: str) -> tuple[Tenant, ...]:
    """The account's tenants as last listed (no network); empty if never listed."""
    return session.subscription_choices.tenants(home_account_id)


def tenant_names(session: Session) -> dict[str, str]:
    """Tenant ID -> display name, from every tenant list this session fetched (no network)."""
    return session.subscription_choices.tenant_names()


def resolve_tenant(tenant: str | Tenant, *, session: Session | None = None) -> Tenant:
    """A tenant by ID, domain or display name (case-insensitive), among the account's tenants.

    A GUID the account's tenant list does not show is accepted as is (ARM lists only tenants
    it has seen the account in); anything else unknown raises `ConfigurationError`.
    """
    if isinstance(tenant, Tenant):
        return tenant
    s = session_or_default(session)
    text = str(tenant).strip()
    if not text:
        raise ConfigurationError("tenant must be a tenant ID, a domain or a tenant name; got ''.")
    account = require_account(s)
    candidates = known_tenants(s, account.home_account_id) or tuple(tenants(session=s))
    wanted = text.lower()
    for matcher in (
        lambda t: t.tenant_id == wanted,
        lambda t: wanted in (d.lower() for d in (t.default_domain, *t.domains) if d),
        lambda t: t.display_name.lower() == wanted,
    ):
        matches = [t for t in candidates if matcher(t)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConfigurationError(
                f"{text!r} names {len(matches)} tenants: "
                f"{'; '.join(f'{t.label} {t.tenant_id}' for t in matches)}. Use the tenant ID."
            )
    if _GUID.fullmatch(text):
        return Tenant(tenant_id=wanted, display_name=wanted)
    listed = "; ".join(f"{t.label} {t.tenant_id}" for t in candidates) or "none"
    raise ConfigurationError(
        f"{account.username} has no tenant {text!r}. Accepted: a tenant ID, domain or name "
        f"of: {listed}."
    )


# -- tokens for a tenant --------------------------------------------------------------------


def token_tenant(session: Session, tenant_id: str) -> str | None:
    """None for the account's own sign-in tenant (its tokens are already cached that way)."""
    account = session.account
    if account is not None and (account.tenant_id or "").lower() == tenant_id.lower():
        return None
    return tenant_id


def tenant_token_silently(session: Session, tenant_id: str) -> bool:
    """Whether the current account gets an ARM token for `tenant_id` without the person.

    False when Entra ID wants interaction (MFA, a revoked sign-in, consent); other failures
    (e.g. AADSTS50020, not a member) are raised.
    """
    try:
        session.token((session.cloud.arm_scope,), tenant_id=token_tenant(session, tenant_id))
    except AuthenticationRequired:
        return False
    return True


# -- subscriptions --------------------------------------------------------------------------


def _subscription_from_arm(
    item: dict[str, Any], tenant_id: str, tenant_name: str | None
) -> Subscription | None:
    subscription = str(item.get("subscriptionId") or "").lower()
    if not subscription:
        return None
    owner = str(item.get("tenantId") or tenant_id).lower()
    return Subscription(
        subscription_id=subscription,
        display_name=str(item.get("displayName") or subscription),
        tenant_id=owner,
        state=str(item.get("state") or "Enabled"),
        tenant_name=tenant_name if owner == tenant_id else None,
    )


def tenant_subscriptions(session: Session, tenant: Tenant) -> list[Subscription]:
    """The subscriptions of one tenant (the token for it must be obtainable silently)."""
    with ResourceManagerClient(session, tenant_id=token_tenant(session, tenant.tenant_id)) as arm:
        items = arm.list("/subscriptions")
    found = [
        s
        for s in (_subscription_from_arm(i, tenant.tenant_id, tenant.display_name) for i in items)
        if s is not None
    ]
    found.sort(key=lambda s: s.display_name.lower())
    return found


def list_all(*, session: Session | None = None) -> SubscriptionListing:
    """Every tenant of the current account and the subscriptions of those reachable silently."""
    s = session_or_default(session)
    all_tenants = tenants(session=s)
    found: list[Subscription] = []
    skipped: list[SkippedTenant] = []
    for tenant in all_tenants:
        try:
            if not tenant_token_silently(s, tenant.tenant_id):
                skipped.append(
                    SkippedTenant(tenant, "needs you to sign in to it again", needs_sign_in=True)
                )
                continue
        except AuthenticationError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            skipped.append(SkippedTenant(tenant, first, needs_sign_in=False))
            continue
        found.extend(tenant_subscriptions(s, tenant))
    return SubscriptionListing(tuple(all_tenants), tuple(found), tuple(skipped))


def skipped_message(skipped: Iterable[SkippedTenant]) -> str:
    """One sentence per skipped tenant, saying how to get at its subscriptions."""
    lines = []
    for item in skipped:
        if item.needs_sign_in:
            lines.append(
                f"Tenant {item.tenant.label} {item.reason}: run `%azsubscription --tenant "
                f"{item.tenant.tenant_id}` to sign in and see its subscriptions."
            )
        else:
            lines.append(f"Tenant {item.tenant.label} was skipped: {item.reason}")
    return "\n".join(lines)
