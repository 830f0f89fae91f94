"""Default sign-in parameters and the check every scope list passes."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass

from . import _clouds
from ._base_errors import ConfigurationError

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_TENANT", "SignInDefaults", "normalize_scopes"]

DEFAULT_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
"""The Azure CLI's public client: works in any tenant without an app registration."""
DEFAULT_TENANT = "organizations"


@dataclass(frozen=True)
class SignInDefaults:
    """A session's defaults (None: nbauth's), applied to what a call leaves out."""

    authority_host: str | None = None
    tenant: str | None = None
    client_id: str | None = None

    @classmethod
    def checked(
        cls, authority_host: str | None, tenant: str | None, client_id: str | None
    ) -> SignInDefaults:
        return cls(
            _clouds.normalize_authority_host(authority_host) if authority_host else None,
            _clouds.validate_tenant(tenant) if tenant else None,
            client_id or None,
        )

    def host(self, given: str | None = None) -> str:
        """`given` (normalized), else this default, else ``$AZURE_AUTHORITY_HOST`` or public."""
        if given:
            return _clouds.normalize_authority_host(given)
        return self.authority_host or _clouds.default_authority_host()

    def tenant_for(self, given: str | None = None) -> str:
        return _clouds.validate_tenant(given or self.tenant or DEFAULT_TENANT)

    def client_id_for(self, given: str | None = None) -> str:
        return given or self.client_id or DEFAULT_CLIENT_ID

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
