"""What a person needs to finish a device-code sign-in, and the default way to show it.

The prompt is a seam: the sign-in flow hands a `DeviceCodePrompt` to a callable and does not
know whether a widget, plain text or a test shows it. It holds only what the person must see;
the device code itself (the secret the poller redeems) never leaves the flow. A method's other
words to the person (it falls back to another method, where to finish signing in) go the same
way, through the request's ``notice`` callable: `print_notice` unless a card shows them.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass

from ._links import link_warning

__all__ = ["BrowserPrompt", "DeviceCodePrompt", "Prompt", "print_notice", "print_prompt"]

# C0 controls but tab and newline, DEL, and C1 controls (CSI, OSC... in 8-bit form).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class DeviceCodePrompt:
    verification_uri: str
    """The page to open (``https://microsoft.com/devicelogin`` for Entra ID)."""
    user_code: str
    """The short code to type on that page."""
    expires_on: float
    """When the code expires, in seconds since the epoch."""
    message: str
    """Entra's own instruction sentence, with the URL and the code in it."""
    interval: int
    """Seconds between polls, as the server asked."""

    def __post_init__(self) -> None:
        # Server text is printed to terminals and notebook streams: control characters
        # (ANSI / OSC escapes that recolour, hide or relink text) are shown, not obeyed.
        for name in ("verification_uri", "user_code", "message"):
            value = getattr(self, name)
            if isinstance(value, str) and _CONTROL.search(value):
                object.__setattr__(self, name, _CONTROL.sub("\ufffd", value))

    @property
    def expires_in(self) -> float:
        """Seconds left before the code expires (0 once expired)."""
        return max(0.0, self.expires_on - time.time())


@dataclass(frozen=True)
class BrowserPrompt:
    """A browser sign-in finished by pasting back (issue 12): open `verification_uri`, sign in,
    then paste the address the browser ends on (``SignIn.complete``). Holds no secret: the
    PKCE verifier never leaves the flow, and the code only exists in the pasted address."""

    verification_uri: str
    """The sign-in page to open (Entra's authorize address for this sign-in)."""
    redirect_uri: str
    """``http://localhost:<port>``: where the browser ends after signing in."""
    expires_on: float
    """When this sign-in stops waiting, in seconds since the epoch."""
    reason: str = ""
    """Why a browser sign-in and not a device code, in one sentence ('' if it was asked for)."""
    user_code: str = ""
    """No code to type: a browser sign-in has none (kept so every prompt can be shown alike)."""
    listening: bool = False
    """This kernel listens at `redirect_uri` too (a local kernel): pasting is only needed if
    the browser cannot reach it (a port forwarded elsewhere)."""

    def __post_init__(self) -> None:
        for name in ("verification_uri", "redirect_uri", "reason"):
            value = getattr(self, name)
            if _CONTROL.search(value):
                object.__setattr__(self, name, _CONTROL.sub("\ufffd", value))

    @property
    def message(self) -> str:
        """The instruction, in words (the text fallback prints it)."""
        host = self.redirect_uri.split("://", 1)[-1]
        if self.listening:
            return (
                f"Sign in on this page (opened in your browser): {self.verification_uri}\n"
                f"If your browser then shows a page that cannot be reached at {host}, copy the "
                f"whole address from the address bar and paste it here."
            )
        return (
            f"Open this page in your browser and sign in: {self.verification_uri}\n"
            f"After you sign in, your browser shows a page that cannot be reached at {host}. "
            f"Copy the whole address from the address bar and paste it here."
        )

    @property
    def expires_in(self) -> float:
        return max(0.0, self.expires_on - time.time())


Prompt = DeviceCodePrompt | BrowserPrompt
"""What a person is shown to finish a sign-in."""


def print_prompt(prompt: Prompt) -> None:
    """Default prompt: Entra's message as plain text on stdout (the cell's output), with a
    warning when the sign-in address is not one to trust blindly (see `nbauth._links`)."""
    if isinstance(prompt, BrowserPrompt):
        reason = f"{prompt.reason}\n" if prompt.reason else ""
        warning = link_warning(prompt.verification_uri)
        print(
            f"{reason}{prompt.message}" + (f"\nWarning: {warning}" if warning else ""),
            file=sys.stdout,
            flush=True,
        )
        return
    message = prompt.message
    if not (
        message and prompt.verification_uri in message and prompt.user_code in message
    ):
        # A message that does not name the address and code being checked could send the
        # person elsewhere: say it in our own words instead.
        message = (
            f"To sign in, use a web browser to open the page {prompt.verification_uri} and "
            f"enter the code {prompt.user_code} to authenticate."
        )
    warning = link_warning(prompt.verification_uri)
    if warning:
        message = f"{message}\nWarning: {warning}"
    print(message, file=sys.stdout, flush=True)


def print_notice(text: str) -> None:
    """Default notice: a method's one-line message to the person (it falls back to another
    method, or says where to finish signing in) as plain text on stdout."""
    print(_CONTROL.sub("\ufffd", text), file=sys.stdout, flush=True)
