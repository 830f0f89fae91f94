"""Sign in as the Azure resource's managed identity, via azure-identity's
``ManagedIdentityCredential``: system-assigned by default, user-assigned with ``client_id=``
(or Azure ML's ``DEFAULT_IDENTITY_CLIENT_ID``), or the options ``object_id`` / ``resource_id``.
(The ``auto`` chain also takes ``AZURE_CLIENT_ID``, as DefaultAzureCredential does.)

Where the token comes from is decided by the environment, as azure-identity decides it:
``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` (App Service, Functions, Container Apps),
``IDENTITY_ENDPOINT`` + ``IMDS_ENDPOINT`` (Azure Arc), ``MSI_ENDPOINT`` (Azure ML, Cloud Shell),
else the instance metadata service (IMDS) at ``$AZURE_POD_IDENTITY_AUTHORITY_HOST`` or
169.254.169.254. IMDS is probed first with a 0.5 s timeout and no retries, so a laptop without
one learns that at once instead of after azure-identity's retries; a real IMDS answers the
probe (which lacks the ``Metadata`` header) with a 400 that names the header.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._export_marker import is_own_export
from ._identity_source import (
    explicit_client_id,
    network_kwargs,
    short_id,
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

__all__ = [
    "DECLARATION",
    "FIX",
    "IMDS_DEFAULT",
    "LABEL",
    "METHOD",
    "PROBE_TIMEOUT_S",
    "endpoint_kind",
    "probe_imds",
    "start",
    "unavailable",
]

METHOD = "managed_identity"
LABEL = "the managed identity"
FIX = (
    "Run the notebook on an Azure resource with a managed identity turned on (a VM, App "
    "Service, Container Apps, Azure ML compute...), or sign in another way "
    "(`%azlogin --method device_code`)."
)
IMDS_DEFAULT = "http://169.254.169.254"
PROBE_TIMEOUT_S = 0.5
_IMDS_PROBE_PATH = (
    "/metadata/identity/oauth2/token?api-version=2018-02-01"
    "&resource=https%3A%2F%2Fmanagement.azure.com%2F"
)


def endpoint_kind() -> str | None:
    """The managed identity endpoint the environment declares, or None (then: IMDS)."""
    env = os.environ
    # This kernel's own export (nbauth.export_identity) is the person's sign-in, not an identity.
    if env.get("IDENTITY_ENDPOINT") and not is_own_export(env.get("IDENTITY_ENDPOINT")):
        if env.get("IDENTITY_HEADER"):
            if env.get("IDENTITY_SERVER_THUMBPRINT"):
                return "Service Fabric"
            return "App Service"
        if env.get("IMDS_ENDPOINT"):
            return "Azure Arc"
    if env.get("MSI_ENDPOINT"):
        return "Azure ML" if env.get("MSI_SECRET") else "Cloud Shell"
    return None


def imds_base() -> str:
    return (os.environ.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") or IMDS_DEFAULT).strip().rstrip("/")


def probe_imds(base: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None if Azure's instance metadata service answers at `base`, else why not."""
    import http.client

    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the instance metadata address {base!r} is not an http URL"
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", _IMDS_PROBE_PATH)
        response = connection.getresponse()
        body = response.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
        return f"no instance metadata service answers at {base} ({why} within {timeout:g} s)"
    finally:
        connection.close()
    if response.status == 400 and b"metadata" in body.lower():
        return None
    return (
        f"something answers at {base} (HTTP {response.status}) but it is not Azure's instance "
        f"metadata service"
    )


def _identity(request: SignInRequest) -> tuple[str, str | None, dict[str, str]]:
    """(how to name it, client_id, identity_config) of the identity asked for."""
    options = string_options(request, ("object_id", "resource_id"))
    client_id = explicit_client_id(request)
    if client_id is None and not options:
        # Azure ML compute names its identity here (azure-identity does not read it).
        client_id = os.environ.get("DEFAULT_IDENTITY_CLIENT_ID", "").strip() or None
    if len(options) + (client_id is not None) > 1:
        from .._errors import ConfigurationError

        raise ConfigurationError(
            "Name the user-assigned managed identity one way only: client_id=, object_id= or "
            "resource_id=."
        )
    if client_id:
        return f"managed identity (user-assigned {short_id(client_id)})", client_id, {}
    if "object_id" in options:
        return (
            f"managed identity (user-assigned {short_id(options['object_id'])})",
            None,
            {"object_id": options["object_id"]},
        )
    if "resource_id" in options:
        name = options["resource_id"].rstrip("/").rsplit("/", 1)[-1]
        return f"managed identity (user-assigned {name})", None, dict(options)
    return "managed identity (system)", None, {}


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here, or None. Declared endpoints are trusted; IMDS is
    probed (at most `PROBE_TIMEOUT_S` per step, no retries)."""
    if is_own_export(os.environ.get("IDENTITY_ENDPOINT")):
        # azure-identity would read the variables and call the export: never take it for one.
        own = "IDENTITY_ENDPOINT is this kernel's own export (%azlogin --export), not a managed identity"
        return MethodUnavailable(METHOD, own, FIX)
    if endpoint_kind() is not None:
        return None
    why = probe_imds(imds_base())
    return MethodUnavailable(METHOD, why, FIX) if why else None


def start(session: Session, request: SignInRequest) -> SignIn:
    name, client_id, identity_config = _identity(request)
    missing = unavailable(request)
    if missing is not None:
        raise missing
    from azure.identity import ManagedIdentityCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential = ManagedIdentityCredential(
            client_id=client_id, identity_config=identity_config or None, **network_kwargs()
        )
    where = endpoint_kind() or "IMDS"
    return sign_in_with(
        session, request, credential, label=f"{LABEL} ({where})", fix=FIX, app_name=name
    )


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("msi", "mi"),
    options=("object_id", "resource_id"),
    azure_identity=True,
    auto=AutoPlace("managed identity", "managedidentitycredential", "prod", True, order=30),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
