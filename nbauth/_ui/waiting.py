"""How a cell waits for a person to sign in, and the pasted address as text.

A cell that waits (``%azlogin``, ``nbauth.login()``: ``wait=True``) blocks until the sign-in
ends, the stop button (Ctrl-C) and a timeout cancelling it, except when the sign-in asks for the
address a browser ends on (a `BrowserPrompt`: a browser sign-in on a remote kernel, or a device
code that the tenant's Conditional Access refused):

- in the card: the wait ends and the cell finishes, the sign-in pending, as with ``wait=False``.
  ipykernel handles the card's message (the pasted address) only once no cell is running, so a
  blocked cell would never receive it. (Processing messages inside the cell, as jupyter-ui-poll
  does, would rely on ipykernel's internals and run other cells' widget callbacks mid-cell.)
  Credential calls meanwhile wait for the pending sign-in, and the card's Cancel button works.
- as text (terminal IPython, a kernel without widgets): the address is read here with hidden
  input (``getpass``) where a person can type, on a remote kernel (a local one catches the
  answer on its own loopback listener); a refused one is said in one line and asked again, a
  few times; elsewhere the cell waits on (``SignIn.complete`` from Python remains).

The address never becomes a variable of a frame a traceback could print (``%xmode Verbose``):
it goes from ``getpass`` into a `HiddenText`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._base_errors import NbauthError
from .._hidden import HiddenText
from .._signin import wait_or_cancel

if TYPE_CHECKING:
    from .._signin import Account, SignIn

__all__ = ["MAX_PASTES", "PASTE_PROMPT", "read_pasted_address", "stdin_available", "wait_in_cell"]

MAX_PASTES = 5
"""Refused addresses before the text fallback stops asking and cancels the sign-in."""
PASTE_PROMPT = "Address from your browser's address bar (hidden): "


def wait_in_cell(
    signin: SignIn,
    timeout: float | None,
    signed_in: Callable[[], Account | None],
    *,
    awaiting_paste: threading.Event,
    widgets: bool,
    kernel: bool,
) -> bool:
    """Wait for `signin` as the module doc says: True once it succeeded, False when the cell
    ends with it pending (the card asks for the pasted address). Raises as `wait_or_cancel`."""
    started = time.monotonic()
    if wait_or_cancel(signin, timeout, signed_in, until=awaiting_paste):
        return True
    if widgets:
        return False
    if stdin_available(kernel=kernel) and not _kernel_is_local():
        read_pasted_address(signin)
    left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
    return wait_or_cancel(signin, left, signed_in)


def stdin_available(*, kernel: bool) -> bool:
    """Whether a person may be asked to type here: a terminal, or a kernel (whose front end
    may refuse: `read_pasted_address` then stops asking)."""
    if kernel:
        return True
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or replaced stdin
        return False


def _kernel_is_local() -> bool:
    from .. import _kernel_location  # Lazy load

    return _kernel_location.detect().local


def read_pasted_address(signin: SignIn) -> None:
    """Ask for the address the browser ended on until `signin` accepts one or ends; at most
    `MAX_PASTES` refusals, then the sign-in is cancelled. Ctrl-C cancels it (and is raised).
    Returns without asking when nobody can answer (ipykernel's front end takes no input, or
    stdin is closed)."""
    import getpass  # Lazy load; looked up at call time: ipykernel swaps getpass.getpass per cell

    from IPython.core.error import StdinNotImplementedError  # Lazy load

    for _ in range(MAX_PASTES):
        if signin.done():
            return
        try:
            address = HiddenText(getpass.getpass(PASTE_PROMPT))
        except (StdinNotImplementedError, EOFError):
            return
        except KeyboardInterrupt:
            signin.cancel()
            raise
        if signin.done():  # finished meanwhile (cancelled, expired)
            return
        try:
            signin.complete(str(address.reveal()))
            return
        except NbauthError as exc:
            # nbauth's errors say what is wrong with the address, never what it holds.
            if signin.done():
                return
            print((str(exc).strip().splitlines() or ["That address was refused."])[0], flush=True)
    print(
        f"{MAX_PASTES} addresses were refused, so the sign-in was cancelled. Run `%azlogin` "
        f"again, sign in on the page it shows, and paste the address the browser ends on.",
        flush=True,
    )
    signin.cancel()
