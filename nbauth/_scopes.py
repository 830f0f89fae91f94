"""Default sign-in parameters and the check every scope list passes."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable

from ._base_errors import ConfigurationError

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_TENANT", "normalize_scopes"]

DEFAULT_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
"""The Azure CLI's public client: works in any tenant without an app registration."""
DEFAULT_TENANT = "organizations"

# msal adds these to every user sign-in itself and refuses them in a request.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


def normalize_scopes(scopes: Iterable[str] | str | None, what: str = "scopes") -> tuple[str, ...]:
    given = scopes
    if isinstance(scopes, str):
        scopes = scopes.split()
    if isinstance(scopes, Iterable):
        out = tuple(scopes)
    else:  # one value of another type (5, True): refused below, not a TypeError
        out = (scopes,) if scopes is not None else ()
    if not out or not all(isinstance(s, str) and s.strip() for s in out):
        raise ConfigurationError(
            f"{what} must be one or more scope strings, such as "
            f"'https://management.azure.com/.default'; got {reprlib.repr(given)}."
        )
    reserved = _RESERVED_SCOPES.intersection(s.lower() for s in out)
    if reserved:
        raise ConfigurationError(
            f"Do not ask for {', '.join(sorted(reserved))}: nbauth (through msal) always adds "
            f"openid, profile and offline_access. Ask for a resource scope such as "
            f"'https://management.azure.com/.default'."
        )
    return out
