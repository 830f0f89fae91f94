"""Sign in as a service principal with a client secret given explicitly, via azure-identity's
``ClientSecretCredential``::

    nbauth.login("client_secret", tenant="contoso.onmicrosoft.com", client_id="<app id>",
                 client_secret=vault.get_secret("sp-secret"))

Options: ``client_secret`` (else ``$AZURE_CLIENT_SECRET``, so that ``%azlogin --method
client_secret --tenant ... --client-id ...`` needs no secret on the magic's line). Never type a
secret into a notebook cell: it is saved with the notebook.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from ._identity_source import identity_kwargs, sign_in_with, translated
from ._method import Method
from ._service_principal import tenant_and_client

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start"]

METHOD = "client_secret"
LABEL = "the service principal's client secret"
FIX = "Check tenant=, client_id= and the secret (its value, not its ID; not expired)."


def _secret(request: SignInRequest) -> str:
    value = request.options.get("client_secret")
    if value is None:
        value = os.environ.get("AZURE_CLIENT_SECRET")
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            "Sign-in method 'client_secret' needs the secret: pass client_secret=... (read it "
            "from a key vault or an environment variable, never type it into the notebook) or "
            "set AZURE_CLIENT_SECRET."
        )
    return value


def start(session: Session, request: SignInRequest) -> SignIn:
    tenant, client_id = tenant_and_client(request)
    secret = _secret(request)
    from azure.identity import ClientSecretCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential = ClientSecretCredential(
            tenant,
            client_id,
            secret,
            additionally_allowed_tenants=["*"],
            **identity_kwargs(request.authority_host),
        )
    return sign_in_with(session, request, credential, label=LABEL, fix=FIX)


DECLARATION = Method(
    METHOD, start, aliases=("secret",), options=("client_secret",), azure_identity=True
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
