"""How a confidential client proves itself at the token endpoint, answering like Entra.

Three proofs, as Entra takes them: a client secret (in the form, or HTTP Basic as
``client_secret_basic``), a certificate assertion signed with the key of a certificate registered
on the app, or a workload identity's federated token (checked in ``_federation``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from urllib.parse import unquote_plus

import jwt
from starlette.requests import Request

from ._context import EmulatorContext, Form
from ._errors import EntraFailure, bad_assertion_signature
from ._federation import verify_federated_assertion
from ._seed import ServicePrincipal

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def missing_client_credentials() -> EntraFailure:
    return EntraFailure(
        7000218,
        "invalid_client",
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        status=401,
    )


def authenticate_client(
    ctx: EmulatorContext, form: Form, request: Request, sp: ServicePrincipal
) -> bool:
    """True when the client proved itself with a certificate, False for a secret."""
    secret = form.get("client_secret") or _basic_auth_secret(request, sp.client_id)
    assertion = form.get("client_assertion")
    if assertion:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise EntraFailure(
                7000219,
                "invalid_request",
                "'client_assertion' or 'client_secret' is required for confidential clients; client_assertion_type must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            )
        if not verify_federated_assertion(ctx, assertion, sp):  # workload identity
            _verify_certificate_assertion(ctx, assertion, sp, request)
        return True
    if secret:
        if not secrets.compare_digest(secret.encode(), sp.client_secret.encode()):
            raise EntraFailure(
                7000215,
                "invalid_client",
                f"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{sp.client_id}'.",
                status=401,
            )
        return False
    raise missing_client_credentials()


def _verify_certificate_assertion(
    ctx: EmulatorContext, assertion: str, sp: ServicePrincipal, request: Request
) -> None:
    cert = sp.certificate
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise EntraFailure(
            700027,
            "invalid_client",
            "Client assertion failed signature validation.",
            status=401,
        ) from None
    sent = [t for t in (header.get("x5t#S256"), header.get("x5t")) if isinstance(t, str)]
    if cert is None or not {_thumbprint_bytes(t) for t in sent} & {
        cert.sha1_thumbprint,
        cert.sha256_thumbprint,
    }:
        raise EntraFailure(
            700027,
            "invalid_client",
            f"The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{sent[0] if sent else ''}'.]",
            status=401,
        )
    token_endpoint = str(request.url.replace(query="")).rstrip("/")
    audiences = {token_endpoint, f"{ctx.authority_host}/{sp.tenant_id}/oauth2/v2.0/token"}
    try:
        claims = jwt.decode(
            assertion,
            cert.public_key,
            algorithms=["RS256", "PS256"],
            audience=sorted(audiences),
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise bad_assertion_signature(exc) from None
    if claims["iss"].lower() != sp.client_id or claims["sub"].lower() != sp.client_id:
        raise EntraFailure(
            700023,
            "invalid_client",
            "Client assertion audience claim does not match Realm issuer.",
            status=401,
        )


def _thumbprint_bytes(value: str) -> bytes | None:
    """x5t values are base64url, with or without padding (msal pads them)."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None


def _basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return unquote_plus(user), unquote_plus(password)


def basic_auth_client(request: Request) -> str | None:
    pair = _basic_auth(request)
    return pair[0] if pair else None


def _basic_auth_secret(request: Request, client_id: str) -> str | None:
    pair = _basic_auth(request)
    return pair[1] if pair and pair[0].lower() == client_id else None
