"""Sign in as a service principal with a certificate, via azure-identity's
``CertificateCredential``::

    nbauth.login("client_certificate", tenant="contoso.onmicrosoft.com", client_id="<app id>",
                 certificate_path="~/sp.pem")

Options: ``certificate_path`` (PEM or PKCS12 holding the certificate and its private key; else
``$AZURE_CLIENT_CERTIFICATE_PATH``) or ``certificate_data`` (its bytes),
``certificate_password`` (else ``$AZURE_CLIENT_CERTIFICATE_PASSWORD``),
``send_certificate_chain`` (for subject name / issuer authentication).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ._identity_source import identity_kwargs, sign_in_with, translated
from ._method import Flag, Method
from ._service_principal import tenant_and_client

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "start"]

METHOD = "client_certificate"
LABEL = "the service principal's certificate"
FIX = (
    "Check tenant=, client_id= and that the certificate is the one registered for the application."
)


def _certificate(request: SignInRequest) -> dict[str, Any]:
    options = request.options
    data = options.get("certificate_data")
    path = options.get("certificate_path")
    if data is not None and path is not None:
        raise ConfigurationError("Give either certificate_path= or certificate_data=, not both.")
    kwargs: dict[str, Any] = {}
    if data is not None:
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ConfigurationError("certificate_data= must be the certificate file's bytes.")
        kwargs["certificate_data"] = bytes(data)
    else:
        if path is None:
            path = os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
        if not path:
            raise ConfigurationError(
                "Sign-in method 'client_certificate' needs certificate_path= (a PEM or PKCS12 "
                "file with the certificate and its private key) or certificate_data=, or "
                "AZURE_CLIENT_CERTIFICATE_PATH set."
            )
        path = os.path.expanduser(os.fspath(path))
        if not os.path.isfile(path):
            raise ConfigurationError(
                f"The certificate file {path} does not exist. Pass the path of the PEM or "
                f"PKCS12 file that holds the certificate and its private key."
            )
        kwargs["certificate_path"] = path
    password = options.get("certificate_password")
    if password is None:
        password = os.environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
    if password is not None:
        kwargs["password"] = password
    chain = options.get("send_certificate_chain", False)
    if not isinstance(chain, bool):
        raise ConfigurationError("send_certificate_chain= must be True or False.")
    kwargs["send_certificate_chain"] = chain
    return kwargs


def start(session: Session, request: SignInRequest) -> SignIn:
    tenant, client_id = tenant_and_client(request)
    certificate = _certificate(request)
    from azure.identity import CertificateCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential = CertificateCredential(
            tenant,
            client_id,
            additionally_allowed_tenants=["*"],
            **certificate,
            **identity_kwargs(request.authority_host),
        )
    return sign_in_with(session, request, credential, label=LABEL, fix=FIX)


DECLARATION = Method(
    METHOD,
    start,
    aliases=("certificate", "cert"),
    options=(
        "certificate_path",
        "certificate_data",
        "certificate_password",
        "send_certificate_chain",
    ),
    flags=(Flag("certificate", "--certificate", "certificate_path"),),
    azure_identity=True,
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
