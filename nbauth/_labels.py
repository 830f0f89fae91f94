"""How nbauth writes a time and a sign-in method for a person.

One wording for ``%azwhoami``, the signed-in badge, the card and the account picker. Plain text
only; nothing here imports the UI.
"""

from __future__ import annotations

import time

__all__ = ["format_time", "method_label"]

_METHOD_LABELS = {"device_code": "device code"}


def method_label(method: str) -> str:
    """``device_code`` -> ``device code``, ``azure_cli`` -> ``azure cli``."""
    return _METHOD_LABELS.get(method, method.replace("_", " "))


def format_time(epoch: float, now: float | None = None) -> str:
    """``19:42`` (today) or ``2026-11-23 19:42``, in the kernel's local time zone; ``an unknown
    time`` for what is no time (NaN, years beyond the calendar): a server may send anything,
    and showing it must not fail."""
    now = time.time() if now is None else now
    try:
        local, today = time.localtime(epoch), time.localtime(now)
    except (OverflowError, ValueError, OSError, TypeError):
        return "an unknown time"
    same_day = local[:3] == today[:3]
    return (
        time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", local)
        + time.strftime(" %Z", local).rstrip()
    )
