"""What the developer-tool methods (az, azd, pwsh) share: finding the tool, its timeout.

azure-identity runs the tool for every token. Looking it up on PATH first makes a missing tool
cost a stat call instead of a process start, which is what keeps the ``auto`` chain fast on a
machine that has none of them.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._arguments import seconds
from .._errors import ConfigurationError
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = [
    "DEFAULT_PROCESS_TIMEOUT_S",
    "find_tool",
    "process_timeout",
    "sign_in_with_tool",
    "tool_missing",
]

DEFAULT_PROCESS_TIMEOUT_S = 10
"""azure-identity's default: the Azure CLI can take seconds to start on a cold machine."""
MAX_PROCESS_TIMEOUT_S = 86_400


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
    what = f"Option 'process_timeout' of sign-in method {request.method!r}"
    limit = seconds(value, what, optional=False)
    if limit is None or limit > MAX_PROCESS_TIMEOUT_S:
        # subprocess cannot wait longer than a C int of milliseconds; a tool is stuck by then.
        raise ConfigurationError(
            f"{what} must be a number of seconds from 1 to {MAX_PROCESS_TIMEOUT_S}."
        )
    return max(1, int(limit))


def sign_in_with_tool(
    session: Session,
    request: SignInRequest,
    *,
    method: str,
    label: str,
    fix: str,
    missing: MethodUnavailable | None,
    credential_class: Callable[[], type],
    **credential_kwargs: Any,
) -> SignIn:
    """Sign in through a developer tool's azure-identity credential (``credential_class()``
    returns the class, so azure-identity is imported only once the tool is known to exist)."""
    from ._identity_source import explicit_tenant, sign_in_with, translated

    if missing is not None:
        raise missing
    with translated(method, label, fix):
        credential = credential_class()(
            tenant_id=explicit_tenant(request) or "",
            additionally_allowed_tenants=["*"],
            process_timeout=process_timeout(request),
            **credential_kwargs,
        )
    return sign_in_with(session, request, credential, label=label, fix=fix)
