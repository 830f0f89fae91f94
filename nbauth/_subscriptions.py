"""Tenants and subscriptions of the signed-in account, and the one this kernel works in.

Read from Azure Resource Manager (``GET /tenants``, ``GET /subscriptions``) with the kernel's
credential. ARM lists the subscriptions of one tenant per token, so listing "all" asks each
tenant of the account for a token, silently (the refresh token works across the tenants the
account belongs to). A tenant that wants the person back (multi-factor authentication, a
revoked sign-in, a policy) is reported, not prompted for, when listing everything; choosing a
subscription in it prompts (device code for that tenant) unless ``interactive=False``.

The chosen subscription is kept per account: switching accounts switches subscriptions, and
signing an account out (``nbauth.logout``, ``%azlogout``, ``%azaccount --logout``) forgets its
choice, through the session's sign-out listener.
"""

from __future__ import annotations

import re
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import AuthenticationRequired, ConfigurationError

if TYPE_CHECKING:
    from ._prompt import DeviceCodePrompt
    from ._session import Session
    from ._signin import SignIn

__all__ = [
    "Subscription",
    "SubscriptionListing",
    "SkippedTenant",
    "Tenant",
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

Prompt = Callable[["DeviceCodePrompt"], object]

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


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


# -- per-session state ----------------------------------------------------------------------


@dataclass
class _State:
    chosen: dict[str, Subscription] = field(default_factory=dict)
    """home_account_id -> the subscription chosen while that account was current."""
    tenants: dict[str, tuple[Tenant, ...]] = field(default_factory=dict)
    """home_account_id -> its tenants as ARM last listed them (names for messages and pickers)."""


_states: weakref.WeakKeyDictionary[Session, _State] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(session: Session) -> _State:
    """The session's state, created on first use together with its sign-out listener."""
    with _states_lock:
        state = _states.get(session)
        if state is not None:
            return state
        state = _states[session] = _State()
    ref = weakref.ref(session)  # the listener lives in the session: no strong cycle

    def signed_out(account: Any) -> None:
        owner = ref()
        if owner is not None:
            forget_account(owner, account.home_account_id if account is not None else None)

    session.add_sign_out_listener(signed_out)
    return state


def _session_or_default(session: Session | None) -> Session:
    if session is not None:
        return session
    from ._session import session as kernel_session

    return kernel_session()


def _require_account(session: Session) -> Any:
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


# -- the chosen subscription ----------------------------------------------------------------


def current_subscription(session: Session | None = None) -> Subscription | None:
    """The subscription chosen for the current account (``%azsubscription``), or None."""
    s = _session_or_default(session)
    account = s.account
    if account is None:
        return None
    state = _states.get(s)
    return state.chosen.get(account.home_account_id) if state is not None else None


def subscription_id(session: Session | None = None) -> str | None:
    """The ID of the subscription chosen for the current account, or None.

    In [1]: ResourceManagementClient(nbauth.credential(), nbauth.subscription_id())
    """
    chosen = current_subscription(session)
    return chosen.subscription_id if chosen is not None else None


def clear_subscription(session: Session | None = None) -> None:
    """Forget the subscription chosen for the current account."""
    s = _session_or_default(session)
    account = s.account
    if account is not None:
        forget_account(s, account.home_account_id)


def forget_account(session: Session, home_account_id: str | None) -> None:
    """Forget what was chosen for an account (None: for every account); on sign-out."""
    with _states_lock:
        state = _states.get(session)
        if state is None:
            return
        if home_account_id is None:
            state.chosen.clear()
            state.tenants.clear()
        else:
            state.chosen.pop(home_account_id, None)
            state.tenants.pop(home_account_id, None)


def _remember(session: Session, subscription: Subscription) -> None:
    account = session.account
    if account is None:  # signed out meanwhile (another thread): nothing to attach it to
        raise AuthenticationRequired()
    state = _state(session)
    with _states_lock:
        state.chosen[account.home_account_id] = subscription


# -- tenants --------------------------------------------------------------------------------


def _arm(session: Session, tenant_id: str | None) -> Any:
    from ._arm import ResourceManagerClient

    return ResourceManagerClient(session, tenant_id=tenant_id)


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
    s = _session_or_default(session)
    account = _require_account(s)
    with _arm(s, None) as arm:
        found = [t for t in map(_tenant_from_arm, arm.list("/tenants")) if t is not None]
    home = account.home_tenant_id or account.tenant_id
    found.sort(key=lambda t: (t.tenant_id != home, t.display_name.lower()))
    state = _state(s)
    with _states_lock:
        state.tenants[account.home_account_id] = tuple(found)
    return found


def known_tenants(session: Session, home_account_id: str) -> tuple[Tenant, ...]:
    """The account's tenants as last listed (no network); empty if never listed."""
    state = _states.get(session)
    return state.tenants.get(home_account_id, ()) if state is not None else ()


def tenant_names(session: Session) -> dict[str, str]:
    """Tenant ID -> display name, from every tenant list this session fetched (no network)."""
    state = _states.get(session)
    if state is None:
        return {}
    with _states_lock:
        lists = list(state.tenants.values())
    return {t.tenant_id: t.display_name for tenants_ in lists for t in tenants_}


def resolve_tenant(tenant: str | Tenant, *, session: Session | None = None) -> Tenant:
    """A tenant by ID, domain or display name (case-insensitive), among the account's tenants.

    A GUID the account's tenant list does not show is accepted as is (ARM lists only tenants
    it has seen the account in); anything else unknown raises `ConfigurationError`.
    """
    if isinstance(tenant, Tenant):
        return tenant
    s = _session_or_default(session)
    text = str(tenant).strip()
    if not text:
        raise ConfigurationError("tenant must be a tenant ID, a domain or a tenant name; got ''.")
    account = _require_account(s)
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


def _token_tenant(session: Session, tenant_id: str) -> str | None:
    """None for the account's own sign-in tenant (its tokens are already cached that way)."""
    account = session.account
    if account is not None and (account.tenant_id or "").lower() == tenant_id.lower():
        return None
    return tenant_id


def _arm_scope(session: Session) -> tuple[str, ...]:
    return (session.cloud.arm_scope,)


def tenant_token_silently(session: Session, tenant_id: str) -> bool:
    """Whether the current account gets an ARM token for `tenant_id` without the person.

    False when Entra ID wants interaction (MFA, a revoked sign-in, consent); other failures
    (e.g. AADSTS50020, not a member) are raised.
    """
    try:
        session.token(_arm_scope(session), tenant_id=_token_tenant(session, tenant_id))
    except AuthenticationRequired:
        return False
    return True


def sign_in_to_tenant(
    session: Session,
    tenant_id: str,
    *,
    prompt: Prompt | None = None,
    wait: bool = True,
) -> SignIn:
    """Start a device-code sign-in to one tenant, at the current account's authority host."""
    account = session.account
    authority_host = account.authority.rstrip("/").rpartition("/")[0] if account else None
    return session.login(
        tenant=tenant_id, authority_host=authority_host or None, prompt=prompt, wait=wait
    )


def _interactive_sign_in(
    session: Session,
    tenant_id: str,
    reason: str,
    username: str,
    prompt: Prompt | None,
    ui: str,
) -> None:
    """A blocking device-code sign-in to `tenant_id`: with `prompt` if given (tests, custom
    views), else shown like ``%azlogin`` shows one (card in a notebook, text elsewhere)."""
    if prompt is not None:
        sign_in_to_tenant(session, tenant_id, prompt=prompt, wait=True)
        return
    from ._ui.display import sign_in

    account = session.account
    authority_host = account.authority.rstrip("/").rpartition("/")[0] if account else None
    sign_in(
        session,
        wait=True,
        ui=ui,
        tenant=tenant_id,
        authority_host=authority_host or None,
        account_hint=username,
        reason=reason,
    )


def ensure_tenant_access(
    session: Session,
    tenant: Tenant | str,
    *,
    interactive: bool = True,
    prompt: Prompt | None = None,
    ui: str = "auto",
) -> bool:
    """Make sure the current account has an ARM token for `tenant`; True if it had to sign in.

    Silent first. If Entra ID wants the person and `interactive`, a blocking device-code
    sign-in to that tenant runs, saying why (`prompt` shows the code if given; else the card or
    text of ``%azlogin``, as `ui` says: "auto", "widgets" or "text"). Otherwise raises
    `AuthenticationRequired` saying what to run.
    """
    tenant_id = tenant.tenant_id if isinstance(tenant, Tenant) else str(tenant).lower()
    label = tenant.label if isinstance(tenant, Tenant) else tenant_id
    account = _require_account(session)
    if tenant_token_silently(session, tenant_id):
        return False
    why = (
        f"Tenant {label} needs {account.username} to sign in again (multi-factor "
        f"authentication, a policy, or an expired sign-in)."
    )
    if not interactive:
        raise AuthenticationRequired(
            f"{why} Run `%azsubscription --tenant {tenant_id}` (or "
            f"`nbauth.subscriptions(tenant='{tenant_id}')`) in a cell to sign in to it."
        )
    _interactive_sign_in(session, tenant_id, why, account.username, prompt, ui)
    if not tenant_token_silently(session, tenant_id):
        raise AuthenticationRequired(
            f"{why} The sign-in finished but Entra ID still asks for more; run "
            f"`%azlogin --tenant {tenant_id}`."
        )
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
    with _arm(session, _token_tenant(session, tenant.tenant_id)) as arm:
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
    from ._errors import AuthenticationError

    s = _session_or_default(session)
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


def subscriptions(
    tenant: str | Tenant | None = None,
    *,
    session: Session | None = None,
    interactive: bool = True,
    prompt: Prompt | None = None,
    ui: str = "auto",
) -> list[Subscription]:
    """The subscriptions the current account can use, from ARM ``/subscriptions``.

    In [1]: nbauth.subscriptions()                      # every tenant reachable silently
    In [2]: nbauth.subscriptions(tenant="fabrikam.example")

    ``tenant`` (ID, domain or name): only that tenant; if it needs the person to sign in again,
    a device-code sign-in runs (``interactive=False``: raise `AuthenticationRequired` instead).
    Without ``tenant``, tenants that need a new sign-in are skipped with a warning.
    """
    s = _session_or_default(session)
    if tenant is None:
        listing = list_all(session=s)
        if listing.skipped:
            warnings.warn(skipped_message(listing.skipped), stacklevel=2)
        return list(listing.subscriptions)
    chosen = resolve_tenant(tenant, session=s)
    ensure_tenant_access(s, chosen, interactive=interactive, prompt=prompt, ui=ui)
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
    ui: str = "auto",
) -> Subscription:
    """Make `subscription` the current account's subscription, after making sure its tenant
    gives a token (silently, else a sign-in; see `ensure_tenant_access`)."""
    s = _session_or_default(session)
    ensure_tenant_access(
        s,
        Tenant(subscription.tenant_id, subscription.tenant_name or subscription.tenant_id),
        interactive=interactive,
        prompt=prompt,
        ui=ui,
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
    ui: str = "auto",
) -> Subscription:
    """Choose the subscription this kernel works in, by ID or name; returns it.

    In [1]: nbauth.set_subscription("Contoso Data Science")
    In [2]: nbauth.subscription_id()
    Out[2]: 'c0a50002-0000-4000-8000-000000000002'

    A name may be any unique part of one. ``tenant`` narrows the search to one tenant (and
    signs in to it if it needs that). A subscription in another tenant than the sign-in's gets
    a token for that tenant silently where possible, else a device-code sign-in runs, shown
    as ``%azlogin`` shows one (``ui``: "auto", "widgets", "text"; ``prompt``: your own
    callable instead; ``interactive=False``: raise instead).
    """
    s = _session_or_default(session)
    if tenant is not None:
        chosen_tenant = resolve_tenant(tenant, session=s)
        ensure_tenant_access(s, chosen_tenant, interactive=interactive, prompt=prompt, ui=ui)
        candidates: list[Subscription] = tenant_subscriptions(s, chosen_tenant)
        skipped: tuple[SkippedTenant, ...] = ()
    else:
        listing = list_all(session=s)
        candidates, skipped = list(listing.subscriptions), listing.skipped
    found = find_subscription(id_or_name, candidates, skipped)
    return choose(found, session=s, interactive=interactive, prompt=prompt, ui=ui)
