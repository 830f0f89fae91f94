"""Plain text for every sign-in state: the fallback view, and ``text/plain`` of the widgets.

Used in terminal IPython, without IPython at all, and inside the widgets' mime bundles so that
front-ends without widget support (nbclient, some viewers) still show what is going on. Server
text (the verification URI, Entra's error text) is printed as it came; nothing here is HTML.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from .._labels import format_time
from .._links import escape, link_warning
from .._prompt import BrowserPrompt
from .._signin_status import SUCCEEDED, cancelled_text
from .badge import BadgeInfo, full_badge_text

if TYPE_CHECKING:
    from .._prompt import Prompt
    from .._signin import Account, SignIn

__all__ = [
    "Notice",
    "TextSignInView",
    "cancelled_text",
    "failure_text",
    "outcome_text",
    "paste_hint",
    "prompt_line",
    "prompt_text",
    "waiting_text",
]

STOP_BUTTON_HINT = "To cancel, press the stop button (\u25a0) in the toolbar."
CTRL_C_HINT = "To cancel, press Ctrl-C."
BACKGROUND_HINT = (
    "The sign-in continues in the background; cells that use the credential wait for it."
)


def paste_hint(prompt: BrowserPrompt) -> str:
    """What to paste and where it comes from: the instruction's last sentence, which names
    ``localhost:<port>`` (the prompt's own words, one place to change them)."""
    return prompt.message.splitlines()[-1]


def prompt_line(prompt: Prompt) -> str:
    """The one sentence that matters: where to go and which code to type (or, for a browser
    sign-in, what to paste back)."""
    if isinstance(prompt, BrowserPrompt):
        host = prompt.redirect_uri.split("://", 1)[-1]
        return (
            f"To sign in, open {prompt.verification_uri} in your browser, then paste the "
            f"address it ends on (http://{host}/?code=...) into this card "
            f"(before {format_time(prompt.expires_on)})."
        )
    return (
        f"To sign in, open {prompt.verification_uri} and enter the code {prompt.user_code} "
        f"(it expires at {format_time(prompt.expires_on)})."
    )


def waiting_text(*, blocking: bool, cancel_hint: str) -> str:
    if blocking:
        return f"Waiting for you to sign in. {cancel_hint}".strip()
    return f"Waiting for you to sign in. {BACKGROUND_HINT}"


def prompt_text(
    prompt: Prompt,
    *,
    blocking: bool,
    cancel_hint: str,
    account_hint: str | None = None,
    reason: str | None = None,
) -> str:
    lines = []
    if reason:
        lines.append(reason)
    if isinstance(prompt, BrowserPrompt) and prompt.reason:
        lines.append(prompt.reason)
    if account_hint:
        lines.append(f"Sign in as {account_hint}.")
    # A browser sign-in's text is read in a terminal, where "this card" means nothing.
    lines.append(prompt.message if isinstance(prompt, BrowserPrompt) else prompt_line(prompt))
    warning = link_warning(prompt.verification_uri)
    if warning:
        lines.append(f"Warning: {warning}")
    lines.append(waiting_text(blocking=blocking, cancel_hint=cancel_hint))
    return "\n".join(lines)


def failure_text(signin: SignIn) -> str:
    # nbauth's errors already say what to do next and carry no secret (see nbauth._errors).
    error = signin.error
    if error is None:
        return f"The sign-in ended ({signin.status})."
    return str(error).strip() or f"The sign-in ended ({signin.status})."


def outcome_text(
    signin: SignIn, *, info: BadgeInfo | None = None, still_signed_in: Account | None = None
) -> str:
    """What a finished sign-in says: the badge text (and the ``auto`` report, if any),
    ``Sign-in cancelled.``, or the error."""
    if signin.status == SUCCEEDED:
        if info is not None:
            return full_badge_text(info)
        account = signin.account
        return f"Signed in as {account.username}." if account is not None else "Signed in."
    if signin.status == "cancelled":
        return cancelled_text(still_signed_in)
    return failure_text(signin)


class Notice:
    """Lines of text shown through a display handle, so that the badge can replace them."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        style = "white-space:pre-wrap"  # one line per line, in HTML too
        return {
            "text/plain": self.text,
            "text/html": f'<div class="nbauth-notice" style="{style}">{escape(self.text)}</div>',
        }

    def __str__(self) -> str:
        return self.text


class TextSignInView:
    """A sign-in shown as printed lines (terminal IPython, plain Python).

    Same interface as the device-code card: ``show_prompt`` (the login prompt callback),
    ``finish``; ``quiet_failure`` leaves failures to the caller (a blocking cell raises them as
    its one-line error instead of printing them twice).
    """

    def __init__(
        self,
        *,
        blocking: bool,
        cancel_hint: str = CTRL_C_HINT,
        account_hint: str | None = None,
        reason: str | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.blocking = blocking
        self.cancel_hint = cancel_hint
        self.account_hint = account_hint
        self.reason = reason
        self._out = out
        self._lock = threading.Lock()
        self._finished = False

    def _print(self, text: str) -> None:
        print(text, file=self._out or sys.stdout, flush=True)

    def show_prompt(self, prompt: Prompt) -> None:
        """Print `prompt`; again when the sign-in changes it (device code refused: the
        browser), with the reason."""
        self._print(
            prompt_text(
                prompt,
                blocking=self.blocking,
                cancel_hint=self.cancel_hint,
                account_hint=self.account_hint,
                reason=self.reason,
            )
        )

    def finish(
        self,
        signin: SignIn,
        *,
        info: BadgeInfo | None = None,
        still_signed_in: Account | None = None,
        quiet_failure: bool = False,
    ) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        if signin.status != SUCCEEDED and quiet_failure:
            return
        self._print(outcome_text(signin, info=info, still_signed_in=still_signed_in))
