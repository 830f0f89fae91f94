"""Workload identity federation: tokens from a workload issuer, exchanged as client assertions.

In Kubernetes (AKS workload identity) the cluster's OIDC issuer signs a service account token
into ``AZURE_FEDERATED_TOKEN_FILE``; the app presents it as a ``client_assertion`` and Entra
accepts it when the app registration has a *federated credential* with that issuer, subject
and audience. Here the emulator plays both parts:

- its workload issuer (``{authority_host}/federation/v1``) signs tokens with the emulator's key:
  at start one for the first federated credential, written to ``<state dir>/federated-token.jwt``
  (ready file: ``workload_identity``), and on demand through the admin API
  ``POST /admin/federated-token {"subject"?, "client_id"?, "audience"?, "lifetime_s"?}``;
- the token endpoint accepts such an assertion for a service principal whose
  ``federated_credentials`` match, and answers like Entra when they do not (AADSTS700211 unknown
  issuer, AADSTS70021 no matching subject/audience, AADSTS700024 outside its validity).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._context import EmulatorContext
from ._errors import EntraFailure, bad_assertion_signature
from ._seed import ServicePrincipal

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
TOKEN_FILE_NAME = "federated-token.jwt"
DEFAULT_LIFETIME_S = 24 * 3600
_DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"


def workload_issuer(ctx: EmulatorContext) -> str:
    return f"{ctx.authority_host}/federation/v1"


def _credential_issuer(ctx: EmulatorContext, credential: dict[str, Any]) -> str:
    return credential.get("issuer") or workload_issuer(ctx)


def _audiences(credential: dict[str, Any]) -> list[str]:
    return list(credential.get("audiences") or [TOKEN_EXCHANGE_AUDIENCE])


def federated_token(
    ctx: EmulatorContext,
    *,
    issuer: str,
    subject: str,
    audience: str = TOKEN_EXCHANGE_AUDIENCE,
    lifetime_s: int = DEFAULT_LIFETIME_S,
) -> str:
    """A service account token as a workload issuer signs it (no x5t: it is not a client
    certificate assertion)."""
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": issuer,
            "sub": subject,
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime_s),
        },
        ctx.key.private_key,
        algorithm="RS256",
        headers={"typ": "JWT", "kid": ctx.key.kid},
    )
    ctx.state.record_issued("access_tokens", token)
    return token


def _federated_principals(ctx: EmulatorContext) -> list[ServicePrincipal]:
    return [sp for sp in ctx.directory.service_principals if sp.federated_credentials]


def write_token_file(ctx: EmulatorContext, state_dir: Path) -> dict[str, Any] | None:
    """Write a token for the first federated credential; the ready file's ``workload_identity``."""
    principals = _federated_principals(ctx)
    if not principals:
        return None
    sp = principals[0]
    credential = sp.federated_credentials[0]
    issuer = _credential_issuer(ctx, credential)
    token = federated_token(
        ctx, issuer=issuer, subject=credential["subject"], audience=_audiences(credential)[0]
    )
    path = state_dir / TOKEN_FILE_NAME
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(token, encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return {
        "token_file": str(path),
        "client_id": sp.client_id,
        "tenant_id": sp.tenant_id,
        "issuer": issuer,
        "subject": credential["subject"],
        "env": {
            "AZURE_FEDERATED_TOKEN_FILE": str(path),
            "AZURE_CLIENT_ID": sp.client_id,
            "AZURE_TENANT_ID": sp.tenant_id,
        },
    }


def verify_federated_assertion(ctx: EmulatorContext, assertion: str, sp: ServicePrincipal) -> bool:
    """True if `assertion` is a valid federated token for `sp`; False if it is not a federated
    token at all (a certificate assertion names the app itself as issuer); raises
    ``EntraFailure`` for a federated token Entra would refuse."""
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    issuer = str(unverified.get("iss", ""))
    if not issuer or issuer.lower() == sp.client_id:
        return False
    subject = str(unverified.get("sub", ""))
    audience = unverified.get("aud", "")
    audience_text = audience[0] if isinstance(audience, list) and audience else str(audience)
    candidates = [c for c in sp.federated_credentials if _credential_issuer(ctx, c) == issuer]
    if not candidates:
        raise EntraFailure(
            700211,
            "invalid_client",
            f"No matching federated identity record found for presented assertion issuer "
            f"'{issuer}'. Please check your federated identity credential Subject, Audience and "
            f"Issuer against the presented assertion. {_DOCS}",
            status=401,
        )
    match = next(
        (c for c in candidates if c.get("subject") == subject and audience_text in _audiences(c)),
        None,
    )
    if match is None:
        raise EntraFailure(
            70021,
            "invalid_client",
            f"No matching federated identity record found for presented assertion. Assertion "
            f"Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: "
            f"'{audience_text}'. {_DOCS}",
            status=401,
        )
    try:
        jwt.decode(
            assertion,
            ctx.key.public_key,
            algorithms=["RS256"],
            audience=_audiences(match),
            issuer=issuer,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        raise EntraFailure(
            700024,
            "invalid_client",
            f"Client assertion is not within its valid time range. Current time: "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z, expiry time of assertion "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(unverified.get('exp', 0))))}Z.",
            status=401,
        ) from None
    except jwt.PyJWTError as exc:
        raise bad_assertion_signature(exc) from None
    return True


def federation_routes(ctx: EmulatorContext) -> list[Route]:
    """``POST /admin/federated-token``: a fresh workload token (for tests)."""

    async def issue(request: Request) -> Response:
        if (request.client.host if request.client else None) not in ("127.0.0.1", "::1"):
            return JSONResponse({"error": "The admin API answers loopback clients only."}, 403)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "Send a JSON object body."}, 400)
        principals = _federated_principals(ctx)
        client_id = str(body.get("client_id") or "").lower()
        if client_id:
            principals = [sp for sp in principals if sp.client_id == client_id]
        if not principals:
            return JSONResponse(
                {
                    "error": "No service principal with a federated credential matches; add "
                    "'federated_credentials' to one in the seed."
                },
                404,
            )
        sp = principals[0]
        credential = sp.federated_credentials[0]
        issuer = str(body.get("issuer") or _credential_issuer(ctx, credential))
        subject = str(body.get("subject") or credential["subject"])
        audience = str(body.get("audience") or _audiences(credential)[0])
        try:
            lifetime = int(body.get("lifetime_s", DEFAULT_LIFETIME_S))
        except (TypeError, ValueError):
            return JSONResponse({"error": "lifetime_s must be a number of seconds."}, 400)
        token = federated_token(
            ctx, issuer=issuer, subject=subject, audience=audience, lifetime_s=lifetime
        )
        return JSONResponse(
            {
                "token": token,
                "issuer": issuer,
                "subject": subject,
                "audience": audience,
                "client_id": sp.client_id,
                "tenant_id": sp.tenant_id,
            }
        )

    return [Route("/admin/federated-token", issue, methods=["POST"])]
