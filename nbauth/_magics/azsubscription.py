"""``%azsubscription``: which subscription a notebook works in.

Without options it shows the subscription picker (a widget in a notebook, text elsewhere); the
options do the same non-interactively, for "Run all" and scripts. The plain functions it calls
live in `nbauth._subscriptions` (``nbauth.set_subscription``, ``nbauth.subscriptions``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .._base_errors import ConfigurationError, NbauthError
from .._ui import display as ui_display
from ._parsing import parse
from ._picker_magics import SUBSCRIPTION_VAR, PickerMagics

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["AzsubscriptionMagics"]


@magics_class
class AzsubscriptionMagics(PickerMagics):
    """``%azsubscription`` (registered as part of `nbauth._magics.AccountMagics`)."""

    @magic_arguments()
    @argument(
        "--tenant",
        metavar="TENANT",
        help="Only this tenant (ID, domain or name); signs in to it here if it needs that.",
    )
    @argument(
        "--set",
        metavar="ID_OR_NAME",
        help="Use this subscription: its ID, or its name or a unique part of it (quote spaces).",
    )
    @argument("--list", action="store_true", help="Print the subscriptions as text.")
    @argument("--filter", metavar="TEXT", help="Only subscriptions whose name or ID contains TEXT.")
    @line_magic
    def azsubscription(self, line: str = "") -> None:
        """Tenants and subscriptions of the current account; choose the one to work in.

        Without options, shows the subscription picker (tenant list, filter box); outside a
        notebook, the list as text. Choosing one sets ``nbauth.subscription_id()`` and the
        variable ``subscription_id`` in the notebook. A subscription in another tenant gets a
        token for that tenant silently where possible; if that tenant wants you to sign in
        again, the sign-in (device code) happens right here.

        Examples::

            In [1]: %azsubscription
            In [2]: %azsubscription --list --filter prod
            In [3]: %azsubscription --set "Contoso Data Science"
            In [4]: %azsubscription --tenant fabrikam.example --set "Fabrikam Analytics"
            In [5]: ResourceManagementClient(credential, subscription_id)

        The same as plain functions: ``nbauth.tenants()``, ``nbauth.subscriptions()``,
        ``nbauth.set_subscription(...)``, ``nbauth.subscription_id()``.
        """
        # Here, not at %load_ext: they load azure-core.
        from .._subscriptions import current_subscription, set_subscription
        from .._ui.subscription_picker import (
            SubscriptionPicker,
            matches_filter,
            subscriptions_text,
        )

        args = parse(self.azsubscription, line)
        if args.set and args.list:
            raise UsageError("Use either --set or --list, not both.")
        if args.set and args.filter:
            raise UsageError(
                "--filter narrows --list and the picker; --set takes the name or ID itself."
            )
        set_to = _unquote(args.set) if args.set else None
        s = self.session
        try:
            if set_to is not None:
                sub = set_subscription(
                    set_to, tenant=args.tenant, session=s, interactive_sign_in=self._tenant_sign_in
                )
                self._bind_subscription(sub.subscription_id)
                print(
                    f"Using subscription {sub.display_name} ({sub.subscription_id}) in tenant "
                    f"{sub.tenant_name or sub.tenant_id}; `{SUBSCRIPTION_VAR}` is set."
                )
                return
            listing = self._listing(args.tenant)
            if args.list or not self._widgets():
                subs = [x for x in listing.subscriptions if matches_filter(x, args.filter or "")]
                text = subscriptions_text(
                    subs, current=current_subscription(s), skipped=listing.skipped
                )
                if not args.list:
                    text += "\nChoose one with `%azsubscription --set ID_OR_NAME`."
                print(text)
                return
            self.picker = SubscriptionPicker(
                s,
                listing=listing,
                filter_text=args.filter or "",
                on_select=lambda sub: self._bind_subscription(sub.subscription_id),
            )
            ui_display.show(self.picker)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except NbauthError as exc:
            raise ui_display.one_line(exc) from None

    def _tenant_sign_in(self, session: Session, **sign_in: Any) -> object:
        """A tenant that wants the person back is signed in to as %azlogin shows it."""
        return ui_display.sign_in(session, ui=self.ui, **sign_in)

    def _listing(self, tenant: str | None) -> Any:
        from .._subscriptions import (  # here, not at %load_ext: it loads azure-core
            SubscriptionListing,
            ensure_tenant_access,
            list_all,
            resolve_tenant,
            tenant_subscriptions,
        )

        s = self.session
        if tenant is None:
            return list_all(session=s)
        chosen = resolve_tenant(_unquote(tenant), session=s)
        # Blocking: a tenant that wants the person back is signed in to right here, so "Run
        # all" goes on from this cell.
        ensure_tenant_access(s, chosen, interactive_sign_in=self._tenant_sign_in)
        return SubscriptionListing(
            tenants=(chosen,), subscriptions=tuple(tenant_subscriptions(s, chosen))
        )


def _unquote(value: str) -> str:
    """``"Contoso Data Science"`` -> ``Contoso Data Science`` (magic_arguments keeps quotes)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
