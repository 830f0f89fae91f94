"""What a person needs to finish a device-code sign-in, and the default way to show it.

The prompt is a seam: the sign-in flow hands a `DeviceCodePrompt` to a callable and does not
know whether a widget, plain text or a test shows it. It holds only what the person must see;
the device code itself (the secret the poller redeems) never leaves the flow.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

__all__ = ["DeviceCodePrompt", "print_prompt"]


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

    @property
    def expires_in(self) -> float:
        """Seconds left before the code expires (0 once expired)."""
        return max(0.0, self.expires_on - time.time())


def print_prompt(prompt: DeviceCodePrompt) -> None:
    """Default prompt: Entra's message as plain text on stdout (the cell's output)."""
    message = prompt.message or (
        f"To sign in, use a web browser to open the page {prompt.verification_uri} and enter "
        f"the code {prompt.user_code} to authenticate."
    )
    print(message, file=sys.stdout, flush=True)
