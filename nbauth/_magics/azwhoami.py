"""``%azwhoami``: who is signed in in this kernel (never a token)."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class

from ._base import SessionMagics

__all__ = ["AzwhoamiMagics"]


@magics_class
class AzwhoamiMagics(SessionMagics):
    """``%azwhoami`` (registered as part of `nbauth._magics.LoginMagics`)."""

    @line_magic
    def azwhoami(self, line: str = "") -> None:
        """Who is signed in in this kernel: user, tenant, method, subscription, and until when
        the tokens used so far are valid (never a token).

        Examples::

            In [1]: %azwhoami
            In [2]: nbauth.whoami()            # the same, as a value
        """
        if line.strip():
            # What was typed is not repeated: it may be a secret (see ._parsing).
            raise UsageError(
                "%azwhoami takes no arguments; `nbauth.whoami()` is the same as a value."
            )
        from IPython.display import display

        from .._whoami import whoami  # here, not at %load_ext: it loads azure-core

        display(whoami(self.session))
