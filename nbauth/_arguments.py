"""Checks of plain arguments that every public entry point shares: seconds, flags, strings.

A bad value must end in one `ConfigurationError` sentence that says what is accepted, never in a
TypeError from deep inside, and never in a wait without end (``nan`` compares false with
everything, so a deadline of ``now + nan`` is never reached). Messages show a value only in
`shown` form: short, and never a repr that could itself fail or fill the screen.
"""

from __future__ import annotations

import math
import numbers

from ._base_errors import ConfigurationError, redact

__all__ = ["MAX_TEXT_CHARS", "flag", "optional_flag", "seconds", "shown", "text"]

MAX_TEXT_CHARS = 2048
"""Longer than any tenant, client ID, host name or URL nbauth takes."""
_SHOWN_CHARS = 60


def shown(value: object) -> str:
    """`value` for an error message: a short repr of a string or number (anything shaped like
    a token redacted), else its type."""
    if isinstance(value, (bool, float)) or (isinstance(value, int) and abs(value) < 10**18):
        return repr(value)
    if not isinstance(value, str):
        return f"a value of type {type(value).__name__}"  # its repr may be huge, or fail
    if len(value) > _SHOWN_CHARS:
        return redact(f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)")
    return redact(repr(value))


def seconds(value: object, what: str = "timeout", *, optional: bool = True) -> float | None:
    """`value` as a positive, finite number of seconds; None stays None (no limit) if
    `optional`."""
    if value is None and optional:
        return None
    accepted = "such as 300, or None for no limit" if optional else "such as 300"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigurationError(
            f"{what} must be a number of seconds, {accepted}; got {shown(value)}."
        )
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.inf
    if not math.isfinite(number) or number <= 0:
        raise ConfigurationError(
            f"{what} must be a positive, finite number of seconds, {accepted}; got "
            f"{shown(value)}."
        )
    return number


def flag(value: object, what: str) -> bool:
    """`value` if it is True or False (a string such as 'false' would be truthy)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{what} must be True or False; got {shown(value)}.")
    return value


def optional_flag(value: object, what: str) -> bool | None:
    """`flag`, or None (meaning: leave as is)."""
    return None if value is None else flag(value, what)


def text(value: object, what: str, example: str) -> str:
    """`value` as a non-empty, printable string of sane length (IDs, names, URLs)."""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_TEXT_CHARS
        or not value.isprintable()
    ):
        raise ConfigurationError(f"{what} must be a string such as {example}; got {shown(value)}.")
    return value.strip()
