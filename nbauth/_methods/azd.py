"""Sign in as whoever is signed in to the Azure Developer CLI (``azd auth login``), via
azure-identity's ``AzureDeveloperCliCredential`` (``azd auth token``).

Options: ``process_timeout``. ``tenant=`` asks azd for tokens of that tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._developer_tools import sign_in_with_tool, tool_missing
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start", "unavailable"]

METHOD = "azd"
LABEL = "the Azure Developer CLI"
FIX = (
    "Install the Azure Developer CLI (https://aka.ms/azd-install), run `azd auth login` in a "
    "terminal, then run this again."
)


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here without trying (no network, no process), or None."""
    return tool_missing(METHOD, "the Azure Developer CLI", FIX, "azd")


def start(session: Session, request: SignInRequest) -> SignIn:
    def credential_class() -> type:
        from azure.identity import AzureDeveloperCliCredential  # Lazy load

        return AzureDeveloperCliCredential

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
    aliases=("azure_developer_cli",),
    options=("process_timeout",),
    azure_identity=True,
    auto=AutoPlace("Azure Developer CLI", "azuredeveloperclicredential", "dev", False, order=60),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
