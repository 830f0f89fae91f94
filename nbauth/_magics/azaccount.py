"""``%azaccount``: which of the accounts signed in in this kernel a notebook uses.

Without options it shows the account picker (a widget in a notebook, text elsewhere); the
options do the same non-interactively, for "Run all" and scripts. The plain functions it calls
live in `nbauth._accounts` (``nbauth.use_account``, ``nbauth.logout_account``, ...).
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .._base_errors import ConfigurationError, NbauthError
from .._ui import display as ui_display
from ._parsing import parse
from ._picker_magics import PickerMagics

__all__ = ["AzaccountMagics"]


@magics_class
class AzaccountMagics(PickerMagics):
    """``%azaccount`` (registered as part of `nbauth._magics.AccountMagics`)."""

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
        # Here, not at %load_ext: they load azure-core.
        from .._accounts import logout_account, use_account
        from .._ui.account_picker import AccountPicker, accounts_text

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
                self.picker = AccountPicker(s, on_change=lambda _account: self._follow_account())
                ui_display.show(self.picker)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None
        except NbauthError as exc:
            raise ui_display.one_line(exc) from None
