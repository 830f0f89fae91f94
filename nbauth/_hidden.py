"""Keyword arguments that tracebacks cannot print.

``%xmode Verbose`` (and IPython's ``%debug``, and any tool built on ``stack_data``) prints the
arguments of every frame it shows, ``**options`` included, as of when the error is shown. Sign-in
options hold client secrets and passwords, so a function that takes them rebinds them at once
to a `HiddenValues`: the same mapping, whose repr names the keys and hides the values.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HiddenText", "HiddenValues"]


class HiddenValues(dict[str, Any]):
    """A dict whose repr and str show its keys only."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: '[hidden]'" for key in self) + "}"

    __str__ = __repr__


class HiddenText:
    """One secret-bearing value (a pasted address holds an authorization code) whose repr and
    str hide it; `reveal` hands it to the one place that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def reveal(self) -> object:
        return self._value

    def __repr__(self) -> str:
        return "'[hidden]'"

    __str__ = __repr__
