"""The device-code card: the code, a "copy code and open sign-in page" button, the link, a
countdown, Cancel (or the stop-button hint), a status line; then the signed-in badge.

`DeviceCodeCard` is an ``ipywidgets.VBox`` holding a `DeviceCodeView` (anywidget: the part that
needs front-end JavaScript, for the clipboard and the new tab) and, when the kernel is free to
process clicks (``--no-wait``), an ``ipywidgets.Button`` to cancel. Tests drive it headlessly:
trait values and ``card.cancel_button.click()``.

No trait holds a token, a refresh token or the device code; the user code is cleared as soon as
the sign-in ends (saved widget state goes into the .ipynb).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import traitlets

from .._links import link_warning, safe_href
from .._signin import SUCCEEDED
from .badge import BadgeInfo, signed_in_badge
from .text import STOP_BUTTON_HINT, outcome_text, prompt_line, waiting_text

if TYPE_CHECKING:
    from .._prompt import DeviceCodePrompt
    from .._signin import Account, SignIn

__all__ = ["DeviceCodeCard", "DeviceCodeView"]

_HERE = Path(__file__).parent


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


# ipywidgets ships no type information, so its classes are Any to a type checker.
class DeviceCodeCard(ipywidgets.VBox):  # type: ignore[misc]
    """A device-code sign-in, pending then finished. Build with the prompt; `attach` the
    `SignIn`; `finish` when it ends (the display layer calls it from the done callback)."""

    def __init__(
        self,
        prompt: DeviceCodePrompt,
        *,
        blocking: bool,
        cancel_hint: str = STOP_BUTTON_HINT,
        account_hint: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.view = DeviceCodeView(
            user_code=prompt.user_code,
            verification_uri=prompt.verification_uri,
            link_href=safe_href(prompt.verification_uri) or "",
            link_warning=link_warning(prompt.verification_uri),
            expires_on=float(prompt.expires_on),
            blocking=blocking,
            account_hint=account_hint or "",
            reason=reason or "",
            status=waiting_text(blocking=blocking, cancel_hint=cancel_hint),
        )
        self.cancel_button: ipywidgets.Button | None = None
        children: list[ipywidgets.Widget] = [self.view]
        if not blocking:
            # While a cell blocks, ipykernel processes no widget messages, so a Cancel button
            # would do nothing: the stop-button hint takes its place.
            self.cancel_button = ipywidgets.Button(
                description="Cancel", tooltip="Cancel this sign-in", icon="times"
            )
            self.cancel_button.add_class("nbauth-cancel")
            children.append(self.cancel_button)
        super().__init__(children=children, **kwargs)
        self.add_class("nbauth-card")
        self.blocking = blocking
        self.badge: ipywidgets.HTML | None = None
        self._prompt_line = prompt_line(prompt)
        self._text = self._prompt_line
        self._lock = threading.Lock()
        self._finished = False

    @property
    def state(self) -> str:
        return self.view.state

    @property
    def text(self) -> str:
        """The card as one line of plain text (its ``text/plain``)."""
        return self._text

    def add_note(self, text: str) -> None:
        """Say more above the code: a method's notice that came after the card was shown."""
        self.view.reason = f"{self.view.reason} {text}".strip()

    def attach(self, signin: SignIn) -> None:
        """Wire the Cancel button to `signin`."""
        if self.cancel_button is not None:
            self.cancel_button.on_click(lambda _button: signin.cancel())

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
