"""What the developer-tool methods (az, azd, pwsh) share: finding the tool, its timeout.

azure-identity runs the tool for every token. Looking it up on PATH first makes a missing tool
cost a stat call instead of a process start, which is what keeps the ``auto`` chain fast on a
machine that has none of them.
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from . import SignInRequest

__all__ = ["DEFAULT_PROCESS_TIMEOUT_S", "find_tool", "process_timeout", "tool_missing"]

DEFAULT_PROCESS_TIMEOUT_S = 10
"""azure-identity's default: the Azure CLI can take seconds to start on a cold machine."""


def find_tool(*names: str) -> str | None:
    """The first of `names` on PATH (``.cmd`` variants too on Windows), or None."""
    for name in names:
        candidates = (name + ".cmd", name) if sys.platform.startswith("win") else (name,)
        for candidate in candidates:
            path = shutil.which(candidate)
            if path:
                return path
    return None


def tool_missing(method: str, what: str, fix: str, *names: str) -> MethodUnavailable | None:
    """`MethodUnavailable` if none of the executables `names` is on PATH."""
    if find_tool(*names) is not None:
        return None
    return MethodUnavailable(
        method, f"{what} ({' / '.join(names)}) is not installed or not on PATH", fix
    )


def process_timeout(request: SignInRequest) -> int:
    """The ``process_timeout`` option (seconds the tool may take), or the default."""
    value = request.options.get("process_timeout", DEFAULT_PROCESS_TIMEOUT_S)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(
            f"Option 'process_timeout' of sign-in method {request.method!r} must be a positive "
            f"number of seconds."
        )
    return max(1, int(value))
