"""Sign in with Microsoft Entra Workload ID (AKS workload identity and other federated
workloads), via azure-identity's ``WorkloadIdentityCredential``: the service account token in
``AZURE_FEDERATED_TOKEN_FILE`` is exchanged for tokens of the app ``AZURE_CLIENT_ID`` in
``AZURE_TENANT_ID`` (``AZURE_AUTHORITY_HOST`` picks the cloud).

Options: ``token_file`` (instead of ``AZURE_FEDERATED_TOKEN_FILE``); ``tenant=`` and
``client_id=`` override the environment variables.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._identity_source import (
    explicit_client_id,
    explicit_tenant,
    identity_kwargs,
    sign_in_with,
    string_options,
    translated,
)
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start", "unavailable"]

METHOD = "workload_identity"
LABEL = "workload identity"
FIX = (
    "Run the notebook in a pod with Azure workload identity enabled (it sets "
    "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID), or set them yourself."
)


def _settings(request: SignInRequest) -> dict[str, str | None]:
    token_file = string_options(request, ("token_file",)).get("token_file")
    return {
        "AZURE_FEDERATED_TOKEN_FILE": token_file
        or os.environ.get("AZURE_FEDERATED_TOKEN_FILE", "").strip()
        or None,
        "AZURE_TENANT_ID": explicit_tenant(request)
        or os.environ.get("AZURE_TENANT_ID", "").strip()
        or None,
        "AZURE_CLIENT_ID": explicit_client_id(request)
        or os.environ.get("AZURE_CLIENT_ID", "").strip()
        or None,
    }


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here without trying (no network), or None."""
    settings = _settings(request)
    if settings["AZURE_FEDERATED_TOKEN_FILE"] is None:
        return MethodUnavailable(METHOD, "AZURE_FEDERATED_TOKEN_FILE is not set", FIX)
    missing = [name for name, value in settings.items() if value is None]
    if missing:
        return MethodUnavailable(
            METHOD,
            f"AZURE_FEDERATED_TOKEN_FILE is set but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing",
            FIX,
        )
    path = settings["AZURE_FEDERATED_TOKEN_FILE"]
    assert path is not None
    if not os.path.isfile(path):
        return MethodUnavailable(
            METHOD,
            f"the federated token file {path} does not exist",
            "Check AZURE_FEDERATED_TOKEN_FILE (the pod's projected service account token).",
        )
    return None


def start(session: Session, request: SignInRequest) -> SignIn:
    missing = unavailable(request)
    if missing is not None:
        raise missing
    from azure.identity import WorkloadIdentityCredential  # Lazy load

    settings = _settings(request)
    with translated(METHOD, LABEL, FIX):
        credential = WorkloadIdentityCredential(
            tenant_id=settings["AZURE_TENANT_ID"],
            client_id=settings["AZURE_CLIENT_ID"],
            token_file_path=settings["AZURE_FEDERATED_TOKEN_FILE"],
            additionally_allowed_tenants=["*"],
            **identity_kwargs(request.authority_host),
        )
    return sign_in_with(session, request, credential, label=LABEL, fix=FIX)


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("workload",),
    options=("token_file",),
    azure_identity=True,
    auto=AutoPlace("workload identity", "workloadidentitycredential", "prod", True, order=20),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
