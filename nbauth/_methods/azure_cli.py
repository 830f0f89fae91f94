"""Sign in as whoever is signed in to the Azure CLI (``az login``), via azure-identity's
``AzureCliCredential``: every token comes from ``az account get-access-token``.

Options: ``subscription`` (the az subscription whose account to use), ``process_timeout``.
``tenant=`` asks az for tokens of that tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._developer_tools import sign_in_with_tool, tool_missing
from ._identity_source import string_options
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start", "unavailable"]

METHOD = "azure_cli"
LABEL = "the Azure CLI"
FIX = (
    "Install the Azure CLI (https://aka.ms/installazurecli), run `az login` in a terminal, then "
    "run this again."
)


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here without trying (no network, no process), or None."""
    return tool_missing(METHOD, "the Azure CLI", FIX, "az")


def start(session: Session, request: SignInRequest) -> SignIn:
    def credential_class() -> type:
        from azure.identity import AzureCliCredential  # Lazy load

        return AzureCliCredential

    return sign_in_with_tool(
        session,
        request,
        method=METHOD,
        label=LABEL,
        fix=FIX,
        missing=unavailable(request),
        credential_class=credential_class,
        subscription=string_options(request, ("subscription",)).get("subscription"),
    )


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("cli", "az"),
    options=("process_timeout", "subscription"),
    azure_identity=True,
    auto=AutoPlace("Azure CLI", "azureclicredential", "dev", False, order=40),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
