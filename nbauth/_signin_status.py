"""How a sign-in can end, in words: light enough for the UI to import at ``%load_ext``.

`nbauth._signin` (which loads azure-core through the errors) re-exports these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._signin import Account

__all__ = [
    "CANCELLED",
    "DECLINED",
    "EXPIRED",
    "FAILED",
    "PENDING",
    "STATUSES",
    "SUCCEEDED",
    "cancelled_text",
]

PENDING = "pending"
SUCCEEDED = "succeeded"
CANCELLED = "cancelled"
DECLINED = "declined"
EXPIRED = "expired"
FAILED = "failed"
STATUSES = (PENDING, SUCCEEDED, CANCELLED, DECLINED, EXPIRED, FAILED)


def cancelled_text(still_signed_in: Account | None) -> str:
    """One line: ``Sign-in cancelled.`` and who (if anyone) is still signed in."""
    if still_signed_in is not None:
        return f"Sign-in cancelled. {still_signed_in.username} is still signed in."
    return "Sign-in cancelled."
