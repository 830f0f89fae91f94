"""The sign-in card: for a device code, the code, a "copy code and open sign-in page" button,
the link, a countdown; for a browser sign-in (issue 12), an "Open sign-in page" button and a
field for the address the browser ends on; then Cancel (or the stop-button hint), a status line;
then the signed-in badge. A device-code sign-in that the tenant refuses switches the same card
to the browser view (`DeviceCodeCard.show_prompt`).

`DeviceCodeCard` is an ``ipywidgets.VBox`` holding a `DeviceCodeView` (anywidget: the part that
needs front-end JavaScript, for the clipboard, the new tab and the field) and, when the kernel
is free to process clicks (``--no-wait``, and always for a browser sign-in), an
``ipywidgets.Button`` to cancel. Tests drive it headlessly: trait values,
``card.cancel_button.click()`` and the view's comm for the field's message.

No trait holds a token, a refresh token, the device code or a pasted address; the user code is
cleared as soon as the sign-in ends (saved widget state goes into the .ipynb). The pasted
address holds a one-time authorization code: the front end sends it once as a custom message
(``{"type": "paste", "address": ...}``) and empties the field; the kernel takes it out of the
message, redeems it in a thread of its own (`SignIn.complete`) and says what was wrong with it,
never what it held.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import traitlets

from .._base_errors import NbauthError
from .._hidden import HiddenText
from .._links import link_warning, safe_href
from .._prompt import BrowserPrompt
from .._signin import SUCCEEDED
from .badge import BadgeInfo, signed_in_badge
from .text import STOP_BUTTON_HINT, outcome_text, paste_hint, prompt_line, waiting_text

if TYPE_CHECKING:
    from .._prompt import Prompt
    from .._signin import Account, SignIn

__all__ = ["PASTE_MESSAGE", "DeviceCodeCard", "DeviceCodeView"]

_HERE = Path(__file__).parent
PASTE_MESSAGE = "paste"
"""The ``type`` of the front end's message carrying the pasted address."""


class DeviceCodeView(anywidget.AnyWidget):
    """The front-end part of the card. Every trait is safe to save in a notebook."""

    _esm = _HERE / "device_code_card.js"
    _css = _HERE / "device_code_card.css"

    state = traitlets.Unicode("pending").tag(sync=True)
    """pending, succeeded, cancelled, declined, expired or failed (as `SignIn.status`)."""
    user_code = traitlets.Unicode("").tag(sync=True)
    verification_uri = traitlets.Unicode("").tag(sync=True)
    """As the server sent it; always shown as text."""
    link_href = traitlets.Unicode("").tag(sync=True)
    """The same address when it may be a link (see `nbauth._links`), else ''."""
    link_warning = traitlets.Unicode("").tag(sync=True)
    expires_on = traitlets.Float(0.0).tag(sync=True)
    """When the code expires (epoch seconds); the browser counts down to it."""
    blocking = traitlets.Bool(True).tag(sync=True)
    account_hint = traitlets.Unicode("").tag(sync=True)
    reason = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    kind = traitlets.Unicode("device_code").tag(sync=True)
    """device_code (a code to type on a page) or browser (a page to open, an address to paste)."""
    paste_hint = traitlets.Unicode("").tag(sync=True)
    """The field's label: where the address to paste comes from (``localhost:<port>``)."""
    paste_error = traitlets.Unicode("").tag(sync=True)
    """Why the last pasted address was refused, in one line that never repeats it."""
    checking = traitlets.Bool(False).tag(sync=True)
    """A pasted address is being redeemed."""


# ipywidgets ships no type information, so its classes are Any to a type checker.
class DeviceCodeCard(ipywidgets.VBox):  # type: ignore[misc]
    """A device-code sign-in, pending then finished. Build with the prompt; `attach` the
    `SignIn`; `finish` when it ends (the display layer calls it from the done callback)."""

    def __init__(
        self,
        prompt: Prompt,
        *,
        blocking: bool,
        cancel_hint: str = STOP_BUTTON_HINT,
        account_hint: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        # A browser sign-in is finished in the card, which takes input only while the kernel
        # is idle: the cell that shows it does not block (see `.waiting`).
        blocking = blocking and not isinstance(prompt, BrowserPrompt)
        self._signin: SignIn | None = None
        self.view = DeviceCodeView(
            blocking=blocking,
            account_hint=account_hint or "",
            status=waiting_text(blocking=blocking, cancel_hint=cancel_hint),
        )
        self.view.on_msg(self._on_message)
        self.cancel_button: ipywidgets.Button | None = None
        super().__init__(children=[self.view], **kwargs)
        self.add_class("nbauth-card")
        self.blocking = blocking
        if not blocking:
            # While a cell blocks, ipykernel processes no widget messages, so a Cancel button
            # would do nothing: the stop-button hint takes its place.
            self._add_cancel_button()
        self.badge: ipywidgets.HTML | None = None
        self._reason = reason or ""
        self._lock = threading.Lock()
        self._checking = threading.Lock()  # guards view.checking: one address at a time
        self._finished = False
        self._text = ""
        self.show_prompt(prompt)

    @property
    def state(self) -> str:
        return self.view.state

    @property
    def text(self) -> str:
        """The card as one line of plain text (its ``text/plain``)."""
        return self._text

    def add_note(self, text: str) -> None:
        """Say more above the code: a method's notice that came after the card was shown."""
        self._reason = f"{self._reason} {text}".strip()
        self.view.reason = f"{self.view.reason} {text}".strip()

    def show_prompt(self, prompt: Prompt) -> None:
        """Show what `prompt` asks: at first, and again when the sign-in changes it (the tenant
        refused the device code: the browser view, with the reason)."""
        browser = isinstance(prompt, BrowserPrompt)
        view = self.view
        with view.hold_sync():
            view.kind = "browser" if browser else "device_code"
            view.user_code = prompt.user_code
            view.verification_uri = prompt.verification_uri
            view.link_href = safe_href(prompt.verification_uri) or ""
            view.link_warning = link_warning(prompt.verification_uri)
            view.expires_on = float(prompt.expires_on)
            said = prompt.reason if isinstance(prompt, BrowserPrompt) else ""
            view.reason = " ".join(filter(None, [self._reason, said]))
            view.paste_hint = paste_hint(prompt) if isinstance(prompt, BrowserPrompt) else ""
            view.paste_error = ""
        self._text = prompt_line(prompt)
        if browser and self.blocking:
            self._unblock()

    def attach(self, signin: SignIn) -> None:
        """Wire the Cancel button and the paste field to `signin`."""
        self._signin = signin
        if self.cancel_button is not None:
            self.cancel_button.on_click(lambda _button: signin.cancel())

    def _add_cancel_button(self) -> None:
        button = ipywidgets.Button(
            description="Cancel", tooltip="Cancel this sign-in", icon="times"
        )
        button.add_class("nbauth-cancel")
        signin = self._signin
        if signin is not None:
            button.on_click(lambda _button: signin.cancel())
        self.cancel_button = button
        self.children = [self.view, button]

    def _unblock(self) -> None:
        """The cell stops waiting (see `__init__`): Cancel takes the stop button's place."""
        self.blocking = False
        self.view.blocking = False
        self.view.status = waiting_text(blocking=False, cancel_hint="")
        if self.cancel_button is None:
            self._add_cancel_button()

    def _on_message(self, _view: Any, content: Any, _buffers: Any) -> None:
        """The front end's message: an address pasted into the field. Runs on the kernel's
        message thread and returns at once: redeeming it is an HTTPS request (see `_redeem`).
        Never raises: ipywidgets would print a traceback, with this frame's variables under
        ``%xmode Verbose``."""
        try:
            if not isinstance(content, dict) or content.get("type") != PASTE_MESSAGE:
                return
            # Out of the message at once: nothing that outlives this call holds it in clear.
            address = HiddenText(content.pop("address", None))
            signin = self._signin
            if signin is None or signin.done() or self.view.kind != "browser":
                return
            with self._checking:
                if self.view.checking:
                    self.view.paste_error = (
                        "Still checking the address pasted before; wait a moment."
                    )
                    return
                self.view.paste_error = ""
                self.view.checking = True
            try:
                threading.Thread(
                    target=self._redeem, args=(signin, address), name="nbauth-paste", daemon=True
                ).start()
            except BaseException:
                with self._checking:
                    self.view.checking = False
                raise
        except Exception:  # noqa: BLE001 - see the docstring
            self.view.paste_error = "The pasted address could not be read. Paste it again."

    def _redeem(self, signin: SignIn, address: HiddenText) -> None:
        """Finish `signin` with the pasted address, in a thread of its own: the kernel stays
        free (the stop button, other messages) during the request, and a refusal is one line
        in the card, the field kept for another try. Success turns the card into the badge
        (the sign-in's done callback)."""
        try:
            signin.complete(str(address.reveal() or ""))
        except NbauthError as exc:
            # nbauth's errors say what is wrong with the address, never what it holds.
            if not signin.done():
                self.view.paste_error = (str(exc).strip().splitlines() or [""])[0]
        except Exception as exc:  # noqa: BLE001 - the card must say something, not die
            if not signin.done():
                self.view.paste_error = (
                    f"The address could not be checked ({type(exc).__name__}). Try again."
                )
        finally:
            with self._checking:
                self.view.checking = False

    def finish(
        self,
        signin: SignIn,
        *,
        info: BadgeInfo | None = None,
        still_signed_in: Account | None = None,
    ) -> bool:
        """Show how `signin` ended; clears the user code. Idempotent (first call wins)."""
        with self._lock:
            if self._finished:
                return False
            self._finished = True
        text = outcome_text(signin, info=info, still_signed_in=still_signed_in)
        self._text = text
        view = self.view
        # Clear the code first, so no later state of the view (saved or synced) holds it.
        view.user_code = ""
        view.paste_error = ""
        if self.cancel_button is not None:
            self.cancel_button.close()
            self.cancel_button = None
        if signin.status == SUCCEEDED and info is not None:
            self.badge = signed_in_badge(info)
            view.state = signin.status
            view.status = ""
            self.children = [self.badge]
            self.remove_class("nbauth-card")
            self.add_class("nbauth-card-done")
            view.close()
        else:
            view.state = signin.status
            view.status = text
            self.children = [view]
        return True

    def dispose(self) -> None:
        """Close every widget of the card (its output is being removed)."""
        with self._lock:
            self._finished = True
        self.view.user_code = ""
        for widget in (self.cancel_button, self.badge, self.view):
            if widget is not None:
                widget.close()
        self.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        data: dict[str, Any] | None = super()._repr_mimebundle_(**kwargs)  # ipywidgets: untyped
        if data is not None:
            data["text/plain"] = self._text
        return data
