"""``--var NAME``: the notebook variable a magic binds must be a name of the user's own."""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from typing import Any

from IPython.core.error import UsageError

from .._arguments import shown

__all__ = ["variable_name"]

# IPython's history names that the display hook creates as it goes (_, __, _i, _ii, _i3, _3).
_HISTORY_NAME = re.compile(r"_+|_i+|_i?\d+")


def variable_name(value: str, shell: Any) -> str:
    """``--var``: a Python name that is not IPython's or Python's own.

    Returned NFKC-normalized, as Python reads names in a cell: ``ｃred`` is ``cred`` there.
    """
    name = unicodedata.normalize("NFKC", value)
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"--var needs a Python variable name (letters, digits, underscores, not starting "
            f"with a digit), such as 'credential' or 'cred'; got {shown(value)}."
        )
    hidden = getattr(shell, "user_ns_hidden", None) or {}
    if name in hidden or _HISTORY_NAME.fullmatch(name) or name.startswith("__"):
        owner = "IPython's own"
    elif name in vars(builtins):
        owner = "Python's built-in"
    else:
        return name
    raise UsageError(
        f"--var {name} would replace {owner} {name}; choose another name, such as 'credential' "
        f"or 'cred'."
    )
