"""``%azaccount`` and ``%azsubscription``: which account and which subscription a notebook uses.

Without options each shows its picker (a widget in a notebook, text elsewhere); the options do
the same non-interactively, for "Run all" and scripts. The plain functions they call live in
`nbauth._accounts` and `nbauth._subscriptions` (``nbauth.use_account``,
``nbauth.set_subscription``, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .._base_errors import ConfigurationError, NbauthError
from .._ui import display as ui_display
from ._base import SessionMagics
from ._parsing import parse

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["SUBSCRIPTION_VAR", "AccountMagics"]

SUBSCRIPTION_VAR = "subscription_id"
"""The user-namespace variable ``%azsubscription`` binds."""


@magics_class
class AccountMagics(SessionMagics):
    """``%azaccount`` and ``%azsubscription``. Configurable, e.g. in ipython_config.py::

    c.AccountMagics.ui = "text"        # never widgets
    """

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, session=session, **kwargs)
        self.picker: Any = None
        """The picker shown last (an `AccountPicker` or `SubscriptionPicker`), to drive it from
        code; None in text mode."""
        # What this magic last bound to `subscription_id`: only that value is kept in step with
        # account switches, so a variable of the user's own is never overwritten.
        self._bound: str | None = None

    # -- helpers -----------------------------------------------------------------------------

    def _bind_subscription(self, subscription_id: str | None) -> None:
        if self.shell is None:
            return
        self.shell.user_ns[SUBSCRIPTION_VAR] = subscription_id
        self._bound = subscription_id

    def _follow_account(self) -> None:
        """After an account switch: `subscription_id` follows the new account's choice."""
        from .._subscriptions import subscription_id

        if self.shell is None or self._bound is None:
            return
        if self.shell.user_ns.get(SUBSCRIPTION_VAR) == self._bound:
            self._bind_subscription(subscription_id(self.session))

    def _widgets(self) -> bool:
        return ui_display.use_widgets(self.ui)

    # -- %azaccount --------------------------------------------------------------------------

    @magic_arguments()
    @argument("--use", metavar="USERNAME", help="Make this signed-in account the current one.")
    @argument("--logout", metavar="USERNAME", help="Sign this account out of the kernel.")
    @argument("--list", action="store_true", help="Print the accounts as text.")
    @line_magic
    def azaccount(self, line: str = "") -> None:
        """The accounts signed in in this kernel: choose the current one, add one, sign one out.

        Without options, shows the account picker (text outside a notebook). Accounts stay
        signed in for the life of the kernel, so switching back needs no new sign-in.

        Examples::

            In [1]: %azaccount
            In [2]: %azaccount --list
            In [3]: %azaccount --use carol@fabrikam.example
            In [4]: %azaccount --logout carol@fabrikam.example

        Add an account with ``%azlogin`` (or the picker's "Add account"). The same as plain
        functions: ``nbauth.accounts()``, ``nbauth.use_account(...)``,
        ``nbauth.logout_account(...)``.
        """
        from .._accounts import logout_account, use_account
        from .._ui.account_picker import accounts_text

        args = parse(self.azaccount, line)
        chosen = [f"--{name}" for name in ("use", "logout", "list") if getattr(args, name)]
        if len(chosen) > 1:
            raise UsageError(
                f"Use only one of --use, --logout, --list; got {' and '.join(chosen)}."
            )
        s = self.session
        try:
            if args.use:
                account = use_account(args.use, session=s)
                self._follow_account()
                print(f"Now using {account.username}.")
            elif args.logout:
                before = s.account
                account = logout_account(args.logout, session=s)
                self._follow_account()
                if before is not None and before.home_account_id == account.home_account_id:
                    print(
                        f"Signed out {account.username}. No account is current: choose one "
                        f"with `%azaccount --use USERNAME` or sign in with `%azlogin`."
                    )
                else:
                    print(f"Signed out {account.username}.")
            elif args.list or not self._widgets():
                print(accounts_text(s))
            else:
                from .._ui.account_picker import AccountPicker

                self.picker = AccountPicker(s, on_change=lambda _account: self._follow_account())
                ui_display.show(self.picker)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except NbauthError as exc:
            raise ui_display.one_line(exc) from None

    # -- %azsubscription ---------------------------------------------------------------------

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
        from .._subscriptions import current_subscription, set_subscription

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
                from .._ui.subscription_picker import matches_filter, subscriptions_text

                subs = [x for x in listing.subscriptions if matches_filter(x, args.filter or "")]
                text = subscriptions_text(
                    subs, current=current_subscription(s), skipped=listing.skipped
                )
                if not args.list:
                    text += "\nChoose one with `%azsubscription --set ID_OR_NAME`."
                print(text)
                return
            from .._ui.subscription_picker import SubscriptionPicker

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
        from .._subscriptions import (
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
