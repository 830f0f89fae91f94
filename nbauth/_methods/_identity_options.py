"""What every azure-identity credential nbauth builds is given, from the sign-in request.

- `identity_kwargs` / `network_kwargs`: the same bound on every request as msal's
  (`nbauth._http`), no instance discovery off Microsoft's clouds, ``$NBAUTH_CA_BUNDLE``;
- `explicit_tenant` / `explicit_client_id`: the request's tenant and client ID, unless they are
  the defaults meant for user sign-ins;
- `string_options`: method options that must be non-empty strings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _clouds
from .._errors import ConfigurationError
from .._http import http_timeouts
from .._scopes import DEFAULT_CLIENT_ID

if TYPE_CHECKING:
    from . import SignInRequest

__all__ = [
    "explicit_client_id",
    "explicit_tenant",
    "identity_kwargs",
    "network_kwargs",
    "string_options",
]


def identity_kwargs(authority_host: str) -> dict[str, Any]:
    """Keyword arguments for an azure-identity credential that talks to Entra ID itself.

    No instance discovery for hosts that are not Microsoft's (an emulator, a private cloud):
    azure-identity would ask login.microsoftonline.com about the host first. Network bounds
    as for msal (`network_kwargs`), and ``$NBAUTH_CA_BUNDLE`` like every other nbauth request.
    """
    kwargs: dict[str, Any] = {"authority": authority_host, **network_kwargs()}
    if not _clouds.uses_instance_discovery(authority_host):
        kwargs["disable_instance_discovery"] = True
    bundle = os.environ.get("NBAUTH_CA_BUNDLE")
    if bundle:
        kwargs["connection_verify"] = bundle
    return kwargs


def network_kwargs() -> dict[str, Any]:
    """azure-core settings that give every request of an azure-identity credential the same
    bound as msal's (`nbauth._http`): its timeouts, and no second attempt after a request got
    no answer or no connection (azure-core's default retries both three times, so a stalled
    endpoint would cost four times the timeout). Answers such as HTTP 429/503 are still
    retried as azure-identity decides."""
    connect_s, read_s = http_timeouts()
    return {
        "connection_timeout": connect_s,
        "read_timeout": read_s,
        "retry_connect": 0,
        "retry_read": 0,
    }


def explicit_tenant(request: SignInRequest) -> str | None:
    """The tenant the caller named, or None when it is the 'organizations'/'common' default,
    which no service principal or developer tool can use as such."""
    return None if request.tenant.lower() in ("organizations", "common") else request.tenant


def explicit_client_id(request: SignInRequest) -> str | None:
    """The client ID the caller named, or None when it is the Azure CLI's public client (the
    default for user sign-ins, never an identity of a service principal)."""
    return None if request.client_id.lower() == DEFAULT_CLIENT_ID else request.client_id


def string_options(request: SignInRequest, names: tuple[str, ...]) -> Mapping[str, str]:
    """The given options among `names`, each a non-empty string (named, never shown)."""
    out: dict[str, str] = {}
    for name in names:
        value = request.options.get(name)
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise ConfigurationError(
                f"Option {name!r} of sign-in method {request.method!r} must be a non-empty string."
            )
        out[name] = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return out
