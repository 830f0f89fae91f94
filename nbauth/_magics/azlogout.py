"""``%azlogout``: sign out of Azure in this kernel."""

from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from ._base import SessionMagics
from ._parsing import parse

__all__ = ["AzlogoutMagics"]


@magics_class
class AzlogoutMagics(SessionMagics):
    """``%azlogout`` (registered as part of `nbauth._magics.LoginMagics`)."""

    @magic_arguments()
    @argument(
        "--all",
        action="store_true",
        help="Sign out every account this kernel signed in (and cancel a pending sign-in).",
    )
    @line_magic
    def azlogout(self, line: str = "") -> None:
        """Sign out of Azure in this kernel: forget the account and its tokens.

        Azure SDK clients built with ``credential`` stop getting tokens until you sign in
        again (``%azlogin``).

        Examples::

            In [1]: %azlogout
            In [2]: %azlogout --all
        """
        args = parse(self.azlogout, line)
        session = self.session
        before = session.account
        session.logout(all=args.all)
        if args.all:
            print("Signed out of every account in this kernel.")
        elif before is not None:
            print(f"Signed out {before.username}.")
        else:
            print("Nobody was signed in.")
