"""Sign in as whoever is signed in to the Azure Developer CLI (``azd auth login``), via
azure-identity's ``AzureDeveloperCliCredential`` (``azd auth token``).

Options: ``process_timeout``. ``tenant=`` asks azd for tokens of that tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import check_options
from ._developer_tools import process_timeout, tool_missing
from ._identity_source import explicit_tenant, sign_in_with, translated
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._session import Session
    from .._signin import SignIn
    from . import SignInRequest

__all__ = ["FIX", "LABEL", "METHOD", "start", "unavailable"]

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
    check_options(request, "process_timeout")
    missing = unavailable(request)
    if missing is not None:
        raise missing
    from azure.identity import AzureDeveloperCliCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential = AzureDeveloperCliCredential(
            tenant_id=explicit_tenant(request) or "",
            additionally_allowed_tenants=["*"],
            process_timeout=process_timeout(request),
        )
    return sign_in_with(session, request, credential, label=LABEL, fix=FIX)
