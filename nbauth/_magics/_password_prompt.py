"""The password for ``%azlogin --method username_password``: asked for, never on the line."""

from __future__ import annotations

import sys

from IPython.core.error import StdinNotImplementedError, UsageError

from .._ui import display as ui_display

__all__ = ["ask_password"]


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or replaced stdin
        return False


def ask_password(username: str) -> str:
    """The password for `username`, from a prompt that does not echo it.

    In a kernel, ipykernel forwards ``getpass`` to the front-end; one that cannot ask (nbclient,
    papermill) raises StdinNotImplementedError. Elsewhere only a terminal can be asked.
    """
    import getpass  # Lazy load; looked up at call time: ipykernel swaps getpass.getpass per cell

    refusal = (
        f"%azlogin --method username_password asks for the password, but nothing here can "
        f"prompt for it (e.g. a notebook run by nbclient or papermill). Call "
        f"nbauth.login('username_password', username={username!r}, password=...) with the "
        f"password read from a key vault or an environment variable instead; never type it "
        f"into a cell."
    )
    if ui_display.frontend() != "kernel" and not _stdin_is_a_terminal():
        raise UsageError(refusal)
    try:
        password = getpass.getpass(f"Password for {username}: ")
    except (StdinNotImplementedError, EOFError):
        raise UsageError(refusal) from None
    except KeyboardInterrupt:
        from .._errors import SignInCancelled  # here, not at %load_ext: it loads azure-core

        raise ui_display.one_line(SignInCancelled("Sign-in cancelled.")) from None
    if not password:
        raise UsageError("No password was entered, so the sign-in was not started.")
    return password
