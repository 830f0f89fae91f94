"""The ``%azsubscription`` picker: tenants and subscriptions of the current account.

A tenant dropdown ("All tenants" or one), a filter box that narrows long lists as you type, the
subscriptions as a list, and "Use subscription". Choosing one makes it the session's
subscription (`nbauth.subscription_id()`) and calls ``on_select(subscription)``; the magic uses
that to bind ``subscription_id`` in the user namespace.

"All tenants" lists what the account reaches silently. A tenant that wants the person back
(MFA, an expired sign-in) is marked; choosing it in the dropdown starts a device-code sign-in to
it inline (`InlineSignIn`), and its subscriptions appear when that finishes. Everything is
non-blocking: clicks arrive while the kernel is idle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._base_errors import NbauthError
from .._errors import AuthenticationRequired
from .._links import escape
from .._signin import CANCELLED, SUCCEEDED
from .._subscription_listing import (
    list_all,
    resolve_tenant,
    skipped_message,
    tenant_subscriptions,
    tenant_token_silently,
)
from .._subscription_records import SkippedTenant, Subscription, SubscriptionListing, Tenant
from .._subscriptions import choose, current_subscription, sign_in_to_tenant
from .account_picker import InlineSignIn

if TYPE_CHECKING:
    from .._session import Session
    from .._signin import SignIn

__all__ = ["ALL_TENANTS", "SubscriptionPicker", "subscriptions_text"]

ALL_TENANTS = ""
"""The tenant dropdown's value for "All tenants"."""
_SEP = " \u00b7 "  # ·
_CHECK = "\u2713 "  # ✓


def subscription_label(sub: Subscription, *, current: bool) -> str:
    state = "" if sub.state == "Enabled" else f"{_SEP}{sub.state}"
    tenant = sub.tenant_name or sub.tenant_id
    return f"{_CHECK if current else '   '}{sub.display_name}{_SEP}{sub.subscription_id}{_SEP}{tenant}{state}"


def matches_filter(sub: Subscription, text: str) -> bool:
    """Whether the filter box text (case-insensitive, every word) matches the subscription."""
    words = text.lower().split()
    haystack = (
        f"{sub.display_name} {sub.subscription_id} {sub.tenant_name or ''} {sub.tenant_id}".lower()
    )
    return all(word in haystack for word in words)


def subscriptions_text(
    subscriptions: list[Subscription],
    *,
    current: Subscription | None,
    skipped: tuple[SkippedTenant, ...] = (),
) -> str:
    """The subscriptions as plain text (terminal, ``text/plain`` of the picker, ``--list``)."""
    chosen = current.subscription_id if current is not None else None
    lines = [subscription_label(s, current=s.subscription_id == chosen) for s in subscriptions]
    if not lines:
        lines.append("No subscriptions found for this account.")
    hint = skipped_message(skipped)
    if hint:
        lines.append(hint)
    return "\n".join(lines)


class SubscriptionPicker:
    """Tenants, a filter box and the subscriptions of the session's current account.

    ``listing``: what to show (default: fetched now with `nbauth._subscriptions.list_all`).
    ``tenant``: preselect a tenant (ID, domain or name). ``filter_text``: prefill the filter.
    ``on_select(subscription)``: after a subscription was chosen.
    """

    def __init__(
        self,
        session: Session,
        *,
        listing: SubscriptionListing | None = None,
        tenant: str | None = None,
        filter_text: str = "",
        on_select: Callable[[Subscription], object] | None = None,
    ) -> None:
        import ipywidgets as w  # Lazy load: only widget front-ends pay for it.

        self.session = session
        self.on_select = on_select
        self._lock = threading.RLock()
        if listing is None:
            listing = list_all(session=session)
        self.tenants: tuple[Tenant, ...] = listing.tenants
        self.skipped: dict[str, SkippedTenant] = {s.tenant.tenant_id: s for s in listing.skipped}
        self._subs: dict[str, list[Subscription]] = {}
        for sub in listing.subscriptions:
            self._subs.setdefault(sub.tenant_id, []).append(sub)

        account = session.account
        self.account = account
        """Whose subscriptions these are; choosing is refused once another account is current."""
        self._pending_tenant: str | None = None
        who = escape(account.username) if account is not None else "nobody"
        self.title = w.HTML(value=f"<b>Azure subscriptions of {who}</b>")
        self.tenant_dropdown = w.Dropdown(
            options=self._tenant_options(),
            value=ALL_TENANTS,
            description="Tenant",
            layout=w.Layout(width="min(36em, 100%)"),
        )
        self.filter_box = w.Text(
            value=filter_text,
            placeholder="Type to filter by name or ID",
            description="Filter",
            continuous_update=True,
            layout=w.Layout(width="min(36em, 100%)"),
        )
        # A list box, never a drop-down (a <select> with one row renders as one), of constant
        # height while the filter narrows it.
        total = len(listing.subscriptions)
        self.select = w.Select(
            options=[], rows=min(10, max(3, total)), layout=w.Layout(width="min(60em, 100%)")
        )
        self.use_button = w.Button(
            description="Use subscription",
            icon="check",
            button_style="primary",
            disabled=True,
            layout=w.Layout(width="auto", align_self="flex-start"),
        )
        self.sign_in = InlineSignIn(on_done=self._tenant_sign_in_done)
        self.status = w.HTML(value="")
        self.widget = w.VBox(
            [
                self.title,
                self.tenant_dropdown,
                self.filter_box,
                self.select,
                self.use_button,
                self.sign_in.widget,
                self.status,
            ],
        )
        self.widget.add_class("nbauth-subscription-picker")

        self.filter_box.observe(lambda _c: self._refresh_options(), names="value")
        self.select.observe(lambda _c: self._selection_changed(), names="value")
        self.tenant_dropdown.observe(lambda c: self._tenant_changed(c["new"]), names="value")
        self.use_button.on_click(lambda _b: self.use_selected())
        self._refresh_options()
        self._describe_skipped()
        if tenant:
            self.choose_tenant(tenant)

    # -- what is shown -----------------------------------------------------------------------

    def _tenant_options(self) -> list[tuple[str, str]]:
        options = [("All tenants", ALL_TENANTS)]
        for t in self.tenants:
            note = " \u2014 sign-in needed" if t.tenant_id in self.skipped else ""
            options.append((f"{t.label}{note}", t.tenant_id))
        return options

    @property
    def subscriptions(self) -> list[Subscription]:
        """The subscriptions loaded so far, for the selected tenant (all tenants: all)."""
        tenant = self.tenant_dropdown.value
        if tenant == ALL_TENANTS:
            order = [t.tenant_id for t in self.tenants] + [
                t for t in self._subs if t not in {x.tenant_id for x in self.tenants}
            ]
            return [s for t in order for s in self._subs.get(t, [])]
        return list(self._subs.get(tenant, []))

    @property
    def visible(self) -> list[Subscription]:
        """The subscriptions the filter lets through, in the order shown."""
        text = self.filter_box.value
        return [s for s in self.subscriptions if matches_filter(s, text)]

    def _refresh_options(self) -> None:
        with self._lock:
            current = current_subscription(self.session)
            chosen = current.subscription_id if current is not None else None
            previous = self.select.value
            shown = self.visible
            options = [
                (subscription_label(s, current=s.subscription_id == chosen), s.subscription_id)
                for s in shown
            ]
            self.select.options = options
            values = [value for _label, value in options]
            if previous in values:
                self.select.value = previous
            elif len(values) == 1:
                self.select.value = values[0]
            elif chosen in values:
                self.select.value = chosen
            else:
                self.select.value = None
            self._selection_changed()

    def _selection_changed(self) -> None:
        self.use_button.disabled = self.select.value is None or self.sign_in.pending

    def _describe_skipped(self) -> None:
        waiting = [s for s in self.skipped.values()]
        if not waiting:
            return
        parts = []
        for item in waiting:
            if item.needs_sign_in:
                parts.append(
                    f"{item.tenant.label} needs you to sign in again: choose it under Tenant."
                )
            else:
                parts.append(f"{item.tenant.label} was skipped: {item.reason}")
        self.set_status(" ".join(parts))

    def set_status(self, text: str, *, error: bool = False) -> None:
        style = ' style="color:var(--jp-error-color1,#c62828)"' if error else ""
        self.status.value = f"<span{style}>{escape(text)}</span>" if text else ""

    def text(self) -> str:
        return subscriptions_text(
            self.subscriptions,
            current=current_subscription(self.session),
            skipped=tuple(self.skipped.values()),
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)  # ipywidgets: untyped
        data["text/plain"] = self.text()
        return data

    # -- tenants -----------------------------------------------------------------------------

    def choose_tenant(self, tenant: str) -> None:
        """Select a tenant (ID, domain or name) in the dropdown, as a person would."""
        wanted = resolve_tenant(tenant, session=self.session).tenant_id
        if wanted not in {value for _label, value in self.tenant_dropdown.options}:
            raise ValueError(f"{tenant!r} is not among this account's tenants.")
        self.tenant_dropdown.value = wanted

    def _tenant_changed(self, tenant_id: str) -> None:
        self._refresh_options()
        if tenant_id == ALL_TENANTS or tenant_id in self._subs:
            return
        self._load_tenant(tenant_id)

    def _tenant(self, tenant_id: str) -> Tenant:
        for t in self.tenants:
            if t.tenant_id == tenant_id:
                return t
        return Tenant(tenant_id, tenant_id)

    def _load_tenant(self, tenant_id: str) -> None:
        """Subscriptions of one tenant: silently if possible, else after an inline sign-in."""
        tenant = self._tenant(tenant_id)
        if not self._same_account():
            return
        try:
            if tenant_token_silently(self.session, tenant_id):
                self._subs[tenant_id] = tenant_subscriptions(self.session, tenant)
                self.skipped.pop(tenant_id, None)
                self.tenant_dropdown.options = self._tenant_options()
                self.tenant_dropdown.value = tenant_id
                self._refresh_options()
                self.set_status(f"{len(self._subs[tenant_id])} subscriptions in {tenant.label}.")
                return
        except NbauthError as exc:
            self.set_status(str(exc).splitlines()[0], error=True)
            return
        account = self.session.account
        who = f" as {account.username}" if account is not None else ""
        self.set_status(f"{tenant.label} needs you to sign in again{who}.")
        self._pending_tenant = tenant_id
        try:
            self.sign_in.start(
                lambda prompt: sign_in_to_tenant(
                    self.session, tenant_id, prompt=prompt, wait=False
                ),
                reason=f"Sign in to {tenant.label} to see its subscriptions.",
                account_hint=account.username if account is not None else None,
            )
        except NbauthError as exc:
            self.set_status(str(exc).splitlines()[0], error=True)
            return
        self._selection_changed()

    def _tenant_sign_in_done(self, signin: SignIn) -> None:
        tenant_id = self._pending_tenant
        self._selection_changed()
        if signin.status != SUCCEEDED:
            if signin.status == CANCELLED:
                self.set_status("Sign-in cancelled.")
            else:
                error = signin.error
                self.set_status(
                    str(error).splitlines()[0] if error else f"Sign-in {signin.status}.", error=True
                )
            return
        if tenant_id is not None:
            self._load_tenant(tenant_id)

    # -- choosing ----------------------------------------------------------------------------

    def _same_account(self) -> bool:
        """False (and says so) when another account became current since the list was made."""
        now = self.session.account
        mine = self.account
        if now is not None and mine is not None and now.home_account_id == mine.home_account_id:
            return True
        who = now.username if now is not None else "nobody"
        self.set_status(
            f"The current account is now {who}; run `%azsubscription` again to see its "
            f"subscriptions.",
            error=True,
        )
        return False

    @property
    def selected(self) -> Subscription | None:
        value = self.select.value
        for sub in self.subscriptions:
            if sub.subscription_id == value:
                return sub
        return None

    def use_selected(self) -> Subscription | None:
        """Make the selected subscription the session's (the "Use subscription" button)."""
        sub = self.selected
        if sub is None:
            self.set_status("Choose a subscription first.", error=True)
            return None
        if not self._same_account():
            return None
        try:
            choose(sub, session=self.session, interactive=False)
        except AuthenticationRequired:
            # The tenant wanted the person back since it was listed: sign in inline, then the
            # person chooses again.
            self._subs.pop(sub.tenant_id, None)
            self.tenant_dropdown.value = sub.tenant_id
            if sub.tenant_id not in self._subs and not self.sign_in.pending:
                self._load_tenant(sub.tenant_id)
            return None
        except NbauthError as exc:
            self.set_status(str(exc).splitlines()[0], error=True)
            return None
        self._refresh_options()
        self.set_status(f"Using {sub.display_name} ({sub.subscription_id}).")
        if self.on_select is not None:
            self.on_select(sub)
        return sub
