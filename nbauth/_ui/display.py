"""Show a sign-in where the person is looking: a card in a notebook, text elsewhere.

- Inside a kernel (``ZMQInteractiveShell``) with ipywidgets and anywidget: the device-code card,
  shown through a display handle so that the finished state (the badge, or nothing) replaces the
  pending one in the output, user code included.
- Terminal IPython, or no IPython at all: printed lines.

`sign_in` is the one entry point used by ``%azlogin``, ``%azaccount``'s "add account" and the
inline re-prompt: it starts the sign-in with the right prompt, shows it, and (``wait=True``)
blocks with the stop button / Ctrl-C as the way out.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .text import CTRL_C_HINT, STOP_BUTTON_HINT, TextSignInView, cancelled_text

if TYPE_CHECKING:
    from .._errors import NbauthError
    from .._prompt import DeviceCodePrompt
    from .._session import Account, Session
    from .._signin import SignIn
    from .badge import BadgeInfo

__all__ = [
    "SignInDisplay",
    "UI_CHOICES",
    "frontend",
    "one_line",
    "show",
    "show_badge",
    "sign_in",
    "start_sign_in",
    "use_widgets",
]

UI_CHOICES = ("auto", "widgets", "text")


def _shell() -> Any:
    if "IPython" not in sys.modules:  # never import IPython just to learn it is not there
        return None
    from IPython import get_ipython

    return get_ipython()


def frontend() -> str:
    """``"kernel"`` (a Jupyter kernel), ``"terminal"`` (another IPython shell) or ``"none"``."""
    shell = _shell()
    if shell is None:
        return "none"
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    if zmqshell is not None and isinstance(shell, zmqshell.ZMQInteractiveShell):
        return "kernel"
    return "terminal"


def use_widgets(ui: str = "auto") -> bool:
    """Whether to show widgets: ``ui`` is ``"auto"`` (only in a kernel), ``"widgets"`` or ``"text"``."""
    if ui not in UI_CHOICES:
        from .._errors import ConfigurationError

        raise ConfigurationError(f"ui must be one of {', '.join(UI_CHOICES)}; got {ui!r}.")
    if ui == "text":
        return False
    if ui == "auto" and frontend() != "kernel":
        return False
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _cancel_hint() -> str:
    return STOP_BUTTON_HINT if frontend() == "kernel" else CTRL_C_HINT


def show(obj: Any) -> Any:
    """Display `obj` with a display id (so it can be replaced); print it without IPython.

    Returns the display handle, or None when there is no IPython.
    """
    if _shell() is None:
        print(str(obj), flush=True)
        return None
    from IPython.display import display

    return display(obj, display_id=True)


def one_line(exc: NbauthError) -> NbauthError:
    """Make IPython show `exc` as its message only, without a traceback wall.

    IPython renders an exception through its ``_render_traceback_`` when it has one; the
    cell still ends in error, so "Run all" stops there as it should.
    """
    lines = str(exc).splitlines() or [type(exc).__name__]
    exc._render_traceback_ = lambda: list(lines)  # type: ignore[attr-defined]
    return exc


class SignInDisplay:
    """Shows one sign-in: `prompt` is the login prompt callback, `attach` wires the `SignIn`,
    `finish` shows the outcome (idempotent; called from the done callback and by waiters).

    ``blocking``: the cell waits (no Cancel button; the stop button cancels, and failures are
    left to the caller to raise as the cell's one-line error, the card being removed).
    """

    def __init__(
        self,
        session: Session,
        *,
        blocking: bool,
        ui: str = "auto",
        scopes: Iterable[str] | None = None,
        account_hint: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.session = session
        self.blocking = blocking
        self.widgets = use_widgets(ui)
        self.scopes = tuple(scopes) if scopes else None
        self.account_hint = account_hint
        self.reason = reason
        self.signin: SignIn | None = None
        self.card: Any = None
        self.handle: Any = None
        self.text_view: TextSignInView | None = None
        self._lock = threading.Lock()
        self._finished = False

    def prompt(self, prompt: DeviceCodePrompt) -> None:
        """The `prompt` callback for `Session.login`: build and show the card (or text)."""
        if self.widgets:
            from .device_code_card import DeviceCodeCard

            self.card = DeviceCodeCard(
                prompt,
                blocking=self.blocking,
                cancel_hint=_cancel_hint(),
                account_hint=self.account_hint,
                reason=self.reason,
            )
            self.handle = show(self.card)
        else:
            self.text_view = TextSignInView(
                blocking=self.blocking,
                cancel_hint=_cancel_hint(),
                account_hint=self.account_hint,
                reason=self.reason,
            )
            self.text_view.show_prompt(prompt)

    def attach(self, signin: SignIn) -> None:
        if self.card is not None:
            self.card.attach(signin)
        signin.add_done_callback(self.finish)

    def finish(self, signin: SignIn) -> None:
        """Show how `signin` ended (first call wins)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._finish_locked(signin)

    def _finish_locked(self, signin: SignIn) -> None:
        info: BadgeInfo | None = None
        if signin.status == "succeeded" and signin.account is not None:
            from .badge import badge_info

            info = badge_info(self.session, signin.account, self.scopes)
        still = self.session.account if signin.status != "succeeded" else None
        if self.card is not None:
            if self.blocking and signin.status != "succeeded":
                # The cell ends with the failure as its one-line error; the card goes away so
                # the line is not said twice and no stale code stays in the output.
                self.card.dispose()
                if self.handle is not None:
                    self.handle.update({"text/plain": ""}, raw=True)
                return
            self.card.finish(signin, info=info, still_signed_in=still)
            if self.handle is not None:
                self.handle.update(self.card)
        elif self.text_view is not None:
            self.text_view.finish(
                signin, info=info, still_signed_in=still, quiet_failure=self.blocking
            )


def start_sign_in(
    session: Session,
    *,
    blocking: bool,
    ui: str = "auto",
    account_hint: str | None = None,
    reason: str | None = None,
    **login_kwargs: Any,
) -> SignInDisplay:
    """Start a device-code sign-in on `session` and show it; returns the display, whose
    ``signin`` is the pending `SignIn` and ``card`` the card (widgets) or None (text).

    ``login_kwargs`` go to `Session.login` (tenant, client_id, scopes, authority_host, ...).
    """
    display = SignInDisplay(
        session,
        blocking=blocking,
        ui=ui,
        scopes=login_kwargs.get("scopes"),
        account_hint=account_hint,
        reason=reason,
    )
    try:
        display.signin = session.login(wait=False, prompt=display.prompt, **login_kwargs)
    except KeyboardInterrupt:
        # Interrupted while the sign-in was being set up: whatever is pending now is this one
        # (a new sign-in cancels older ones), and no poller may outlive the interrupt.
        pending = session.pending
        if pending is not None:
            pending.cancel()
        raise
    display.attach(display.signin)
    return display


def sign_in(
    session: Session,
    *,
    wait: bool = True,
    ui: str = "auto",
    account_hint: str | None = None,
    reason: str | None = None,
    **login_kwargs: Any,
) -> SignIn:
    """Start a device-code sign-in on `session`, shown as a card or text; see the module doc.

    ``wait=True`` blocks until it ends and raises its failure (marked with `one_line`); a
    KeyboardInterrupt (the stop button, Ctrl-C) cancels it (polling thread stopped) and raises
    `SignInCancelled` saying who is still signed in. ``wait=False`` returns the pending sign-in;
    the card's Cancel button works because the kernel is idle. ``login_kwargs`` go to
    `Session.login` (tenant, client_id, scopes, authority_host, claims, ...).
    """
    from .._errors import AuthenticationError, SignInCancelled

    display: SignInDisplay | None = None
    try:
        display = start_sign_in(
            session,
            blocking=wait,
            ui=ui,
            account_hint=account_hint,
            reason=reason,
            **login_kwargs,
        )
        signin = display.signin
        assert signin is not None
        if not wait:
            return signin
        signin.wait()
    except KeyboardInterrupt:
        signin = display.signin if display is not None else None
        if signin is not None:
            signin.cancel()
            if signin.status == "succeeded":  # it finished just before the interrupt
                display.finish(signin)
                return signin
            display.finish(signin)
        raise one_line(SignInCancelled(cancelled_text(session.account))) from None
    except AuthenticationError as exc:
        if display is not None and display.signin is not None:
            display.finish(display.signin)
        raise one_line(exc) from None
    # The done callback may still be running on the polling thread: make sure the cell's
    # output shows the outcome before the cell ends.
    display.finish(signin)
    return signin


def show_badge(
    session: Session, account: Account, *, scopes: Iterable[str] | None = None, ui: str = "auto"
) -> Any:
    """Show the signed-in badge for `account` (a widget in a notebook, a line elsewhere)."""
    from .badge import badge_info, badge_text

    info = badge_info(session, account, scopes)
    if use_widgets(ui):
        from .badge import signed_in_badge

        badge = signed_in_badge(info)
        show(badge)
        return badge
    print(badge_text(info), flush=True)
    return info
