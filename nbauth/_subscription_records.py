"""Tenants and subscriptions as plain records, and what one session chose among them.

No network and no session here: `nbauth._subscription_listing` fills these from Azure Resource
Manager, `nbauth._subscriptions` chooses, and the session keeps a `SubscriptionChoices` of its
own (``Session.subscription_choices``) so that the choice lives and dies with the session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._signin import Account

__all__ = ["SkippedTenant", "Subscription", "SubscriptionChoices", "SubscriptionListing", "Tenant"]


@dataclass(frozen=True)
class Tenant:
    """A Microsoft Entra tenant the account belongs to (as member or guest)."""

    tenant_id: str
    display_name: str
    default_domain: str | None = None
    domains: tuple[str, ...] = ()
    category: str | None = None
    """ARM's ``tenantCategory``, e.g. ``Home``."""
    country_code: str | None = None

    @property
    def label(self) -> str:
        """``Contoso (contoso.example)``: how pickers and messages name the tenant."""
        if self.default_domain and self.default_domain != self.display_name:
            return f"{self.display_name} ({self.default_domain})"
        return self.display_name or self.tenant_id

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Subscription:
    """An Azure subscription the account can see."""

    subscription_id: str
    display_name: str
    tenant_id: str
    state: str = "Enabled"
    """``Enabled``, ``Warned``, ``PastDue``, ``Disabled`` or ``Deleted``."""
    tenant_name: str | None = None

    @property
    def id(self) -> str:
        """The ARM resource ID, ``/subscriptions/<guid>``."""
        return f"/subscriptions/{self.subscription_id}"

    def __str__(self) -> str:
        return f"{self.display_name} ({self.subscription_id})"


@dataclass(frozen=True)
class SkippedTenant:
    """A tenant whose subscriptions could not be listed without the person."""

    tenant: Tenant
    reason: str
    needs_sign_in: bool
    """True when signing in to that tenant (device code) would fix it."""


@dataclass(frozen=True)
class SubscriptionListing:
    """Everything `list_all` found: the tenants, their subscriptions, and what it skipped."""

    tenants: tuple[Tenant, ...]
    subscriptions: tuple[Subscription, ...]
    skipped: tuple[SkippedTenant, ...] = ()


class SubscriptionChoices:
    """One session's subscriptions state, per account (by home account ID): the subscription
    chosen while that account was current, and its tenants as ARM last listed them (names for
    messages and pickers). `logged_out` is the session's sign-out listener: an account that
    signs out takes its choice with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chosen: dict[str, Subscription] = {}
        self._tenants: dict[str, tuple[Tenant, ...]] = {}

    def __repr__(self) -> str:
        return f"<SubscriptionChoices accounts={len(self._chosen)}>"

    def chosen(self, home_account_id: str) -> Subscription | None:
        with self._lock:
            return self._chosen.get(home_account_id)

    def choose(self, home_account_id: str, subscription: Subscription) -> None:
        with self._lock:
            self._chosen[home_account_id] = subscription

    def tenants(self, home_account_id: str) -> tuple[Tenant, ...]:
        """The account's tenants as last listed; empty if never listed."""
        with self._lock:
            return self._tenants.get(home_account_id, ())

    def remember_tenants(self, home_account_id: str, tenants: tuple[Tenant, ...]) -> None:
        with self._lock:
            self._tenants[home_account_id] = tenants

    def tenant_names(self) -> dict[str, str]:
        """Tenant ID -> display name, from every tenant list kept here."""
        with self._lock:
            lists = list(self._tenants.values())
        return {t.tenant_id: t.display_name for tenants in lists for t in tenants}

    def forget(self, home_account_id: str | None) -> None:
        """Forget what was chosen and listed for an account (None: for every account)."""
        with self._lock:
            if home_account_id is None:
                self._chosen.clear()
                self._tenants.clear()
            else:
                self._chosen.pop(home_account_id, None)
                self._tenants.pop(home_account_id, None)

    def logged_out(self, account: Account | None) -> None:
        """The session's sign-out listener (``None``: every account signed out)."""
        self.forget(account.home_account_id if account is not None else None)
