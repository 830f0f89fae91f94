"""Show a sign-in where the person is looking: a card in a notebook, text elsewhere.

- Inside a kernel (``ZMQInteractiveShell``) with ipywidgets and anywidget: the device-code card,
  shown through a display handle so that the finished state (the badge, or nothing) replaces the
  pending one in the output, user code included.
- Terminal IPython, or no IPython at all: printed lines.

`sign_in` is the one entry point used by ``%azlogin``, ``%azaccount``'s "add account", the
inline re-prompt and ``nbauth.login()`` in a kernel: it starts the sign-in (any method) with the
card as its prompt, shows it, and (``wait=True``) blocks with the stop button / Ctrl-C as the way
out. A method that asks nothing of the person (environment, managed identity, Azure CLI...)
finishes at once and shows the badge; one that waits without a prompt shows a waiting line that
the badge replaces. A sign-in made by ``auto`` shows its report under the badge.

A browser sign-in finished by pasting back the address (`BrowserPrompt`; a device code that
the tenant refuses turns into one) stops the cell's wait: see `.waiting`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._arguments import seconds
from .._base_errors import ConfigurationError, SignInTimeout
from .._hidden import HiddenValues
from .._prompt import BrowserPrompt
from .._signin_status import SUCCEEDED, cancelled_text
from .badge import BadgeInfo, badge_info, full_badge_text, signed_in_badge
from .text import (
    CTRL_C_HINT,
    STOP_BUTTON_HINT,
    Notice,
    TextSignInView,
    outcome_text,
    waiting_text,
)

if TYPE_CHECKING:
    from .._base_errors import NbauthError
    from .._prompt import Prompt
    from .._session import Session
    from .._signin import Account, SignIn

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
    A sign-in that shows no prompt (finished at once, or the browser's) gets the badge alone.
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
        if isinstance(scopes, str):  # nbauth.login(scopes="a b") takes a string too
            scopes = scopes.split()
        self.scopes = tuple(scopes) if scopes else None
        self.account_hint = account_hint
        self.reason = reason
        self.signin: SignIn | None = None
        self.card: Any = None
        self.handle: Any = None
        self.text_view: TextSignInView | None = None
        self.awaiting_paste = threading.Event()
        """Set once the sign-in asks for the address its browser ends on (a `BrowserPrompt`)."""
        self._notes: list[str] = []
        self._lock = threading.Lock()
        self._finished = False

    def notice(self, text: str) -> None:
        """The `notice` callback for `Session.login`: what a method says on the way (it falls
        back to another one, where to finish signing in). As text, printed in turn; with
        widgets, shown in the card, or under the waiting line that the badge replaces."""
        if not self.widgets:
            print(text, flush=True)
        elif self.card is not None:
            self.card.add_note(text)
        else:
            self._notes.append(text)

    def prompt(self, prompt: Prompt) -> None:
        """The `prompt` callback for `Session.login`: build and show the card (or text). A
        sign-in that changes what it asks (device code refused: the browser) calls it again,
        from its worker thread: the same card, or text, follows."""
        if self.card is not None:
            self.card.show_prompt(prompt)
        elif self.text_view is not None:
            self.text_view.show_prompt(prompt)
        elif self.widgets:
            from .device_code_card import DeviceCodeCard  # Lazy load: anywidget

            self.card = DeviceCodeCard(
                prompt,
                blocking=self.blocking,
                cancel_hint=_cancel_hint(),
                account_hint=self.account_hint,
                reason=" ".join(filter(None, [*self._notes, self.reason])) or None,
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
        if isinstance(prompt, BrowserPrompt):
            if self.widgets:
                self.blocking = False  # the cell stops waiting: failures show in the card
            self.awaiting_paste.set()

    def attach(self, signin: SignIn) -> None:
        if self.card is not None:
            self.card.attach(signin)
        elif self.text_view is None and not signin.done():
            self._show_waiting()
        signin.add_done_callback(self.finish)

    def _show_waiting(self) -> None:
        """A pending sign-in without a code to show (the browser's): say it waits and how to
        cancel, with what the method said (widgets), where the badge will replace it."""
        text = waiting_text(blocking=self.blocking, cancel_hint=_cancel_hint())
        if self.widgets:
            self.handle = show(Notice("\n".join([text, *self._notes])))
        else:
            print(text, flush=True)

    def finish(self, signin: SignIn) -> None:
        """Show how `signin` ended (first call wins)."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._finish_locked(signin)

    def _finish_locked(self, signin: SignIn) -> None:
        info: BadgeInfo | None = None
        if signin.status == SUCCEEDED and signin.account is not None:
            # An `auto` sign-in's report is settled once the sign-in is done.
            info = badge_info(self.session, signin.account, self.scopes, report=signin.report)
        still = self.session.account if signin.status != SUCCEEDED else None
        if self.card is None and self.text_view is None:
            self._finish_without_prompt(signin, info, still)
        elif self.card is not None:
            if self.blocking and signin.status != SUCCEEDED:
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

    def _finish_without_prompt(
        self, signin: SignIn, info: BadgeInfo | None, still: Account | None
    ) -> None:
        if signin.status == SUCCEEDED and info is not None:
            if self.widgets:
                badge = signed_in_badge(info)
                if self.handle is not None:
                    self.handle.update(badge)
                else:
                    self.handle = show(badge)
            else:
                print(full_badge_text(info), flush=True)
            return
        if self.blocking:
            # The cell ends with the failure as its one-line error: nothing else to say here.
            if self.handle is not None:
                self.handle.update({"text/plain": ""}, raw=True)
            return
        text = outcome_text(signin, still_signed_in=still)
        if self.handle is not None:
            self.handle.update(Notice(text))
        else:
            print(text, flush=True)


def start_sign_in(
    session: Session,
    *,
    blocking: bool,
    ui: str = "auto",
    account_hint: str | None = None,
    reason: str | None = None,
    **login_kwargs: Any,
) -> SignInDisplay:
    """Start a sign-in on `session` and show it; returns the display, whose ``signin`` is the
    `SignIn` (pending, or finished for a method that asks nothing) and ``card`` the device-code
    card (widgets, when a code was shown) or None.

    ``login_kwargs`` go to `Session.login` (method, tenant, client_id, scopes, authority_host,
    ...); the card is the ``prompt``.
    """
    login_kwargs = HiddenValues(login_kwargs)  # method options hold secrets: nbauth._hidden
    display = SignInDisplay(
        session,
        blocking=blocking,
        ui=ui,
        scopes=login_kwargs.get("scopes"),
        account_hint=account_hint,
        reason=reason,
    )
    try:
        display.signin = session.login(
            wait=False, prompt=display.prompt, notice=display.notice, **login_kwargs
        )
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
    timeout: float | None = None,
    **login_kwargs: Any,
) -> SignIn:
    """Start a sign-in on `session` (``method=`` in `login_kwargs`, device code by default),
    shown as a card, a badge or text; see the module doc.

    ``wait=True`` blocks until it ends (at most ``timeout`` s, then it is cancelled) and raises
    its failure (marked with `one_line`); a KeyboardInterrupt (the stop button, Ctrl-C) cancels
    it (polling thread stopped) and raises `SignInCancelled` saying who is still signed in.
    ``wait=False`` returns the pending sign-in; the card's Cancel button works because the
    kernel is idle. A sign-in that has already failed raises either way. ``login_kwargs`` go to
    `Session.login` (method, tenant, client_id, scopes, authority_host, cloud, claims, method
    options...).
    """
    login_kwargs = HiddenValues(login_kwargs)  # method options hold secrets: nbauth._hidden
    # Lazy load: these are azure-core's errors too, and %load_ext imports this module.
    from .._errors import AuthenticationError, SignInCancelled
    from .waiting import wait_in_cell

    # Before the sign-in starts: Session.login never sees this timeout (it is waited for here).
    timeout = seconds(timeout)
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
        if not wait and not signin.done():
            return signin
        if not wait_in_cell(
            signin,
            timeout,
            lambda: session.account,
            awaiting_paste=display.awaiting_paste,
            widgets=display.widgets,
            kernel=frontend() == "kernel",
        ):
            return signin  # pending: the card takes the pasted address once the cell ends
    except KeyboardInterrupt:  # while the sign-in was being set up: start_sign_in cancelled it
        raise one_line(SignInCancelled(cancelled_text(session.account))) from None
    except (AuthenticationError, SignInTimeout) as exc:  # failed, timed out, or stopped
        if display is not None and display.signin is not None:
            display.finish(display.signin)
        raise one_line(exc) from None
    # The done callback may still be running on the polling thread: make sure the cell's
    # output shows the outcome before the cell ends.
    display.finish(signin)
    return signin


def show_badge(
    session: Session,
    account: Account,
    *,
    scopes: Iterable[str] | None = None,
    ui: str = "auto",
    report: object | None = None,
) -> Any:
    """Show the signed-in badge for `account` (a widget in a notebook, a line elsewhere), with
    the ``auto`` chain's `report` under it when given."""
    info = badge_info(session, account, scopes, report=report)
    if use_widgets(ui):
        badge = signed_in_badge(info)
        show(badge)
        return badge
    print(full_badge_text(info), flush=True)
    return info
