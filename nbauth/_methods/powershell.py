"""Sign in as whoever is signed in to Azure PowerShell (``Connect-AzAccount``), via
azure-identity's ``AzurePowerShellCredential`` (``Get-AzAccessToken`` in ``pwsh``).

Options: ``process_timeout``. ``tenant=`` asks PowerShell for tokens of that tenant.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ._developer_tools import sign_in_with_tool, tool_missing
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start", "unavailable"]

METHOD = "powershell"
LABEL = "Azure PowerShell"
FIX = (
    "Install PowerShell 7 (https://aka.ms/install-powershell) and the Az module "
    "(`Install-Module Az`), run `Connect-AzAccount` in pwsh, then run this again."
)


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here without trying (no network, no process), or None."""
    # azure-identity falls back to Windows PowerShell (powershell.exe) on Windows only.
    names = ("pwsh", "powershell") if sys.platform.startswith("win") else ("pwsh",)
    return tool_missing(METHOD, "PowerShell", FIX, *names)


def start(session: Session, request: SignInRequest) -> SignIn:
    def credential_class() -> type:
        from azure.identity import AzurePowerShellCredential  # Lazy load

        return AzurePowerShellCredential

    return sign_in_with_tool(
        session,
        request,
        method=METHOD,
        label=LABEL,
        fix=FIX,
        missing=unavailable(request),
        credential_class=credential_class,
    )


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("pwsh", "azure_powershell"),
    options=("process_timeout",),
    azure_identity=True,
    auto=AutoPlace("Azure PowerShell", "azurepowershellcredential", "dev", False, order=50),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
