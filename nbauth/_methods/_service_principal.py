"""What the explicit service principal methods (client_secret, client_certificate) share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from ._identity_source import explicit_client_id, explicit_tenant

if TYPE_CHECKING:
    from . import SignInRequest

__all__ = ["tenant_and_client"]


def tenant_and_client(request: SignInRequest) -> tuple[str, str]:
    """The service principal's tenant and client ID, both required and explicit."""
    tenant, client_id = explicit_tenant(request), explicit_client_id(request)
    missing = [
        text
        for text, value in (
            ("tenant= (the tenant ID or domain the service principal lives in)", tenant),
            ("client_id= (its application ID)", client_id),
        )
        if value is None
    ]
    if missing:
        raise ConfigurationError(
            f"Sign-in method {request.method!r} needs {' and '.join(missing)}, e.g. "
            f"nbauth.login({request.method!r}, tenant='contoso.onmicrosoft.com', "
            f"client_id='<app id>', ...)."
        )
    assert tenant is not None and client_id is not None
    return tenant, client_id
