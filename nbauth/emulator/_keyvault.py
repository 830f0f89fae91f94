"""A Key Vault with secrets only, on its own HTTPS port, for ``SecretClient`` in the tutorials.

Just enough of the data plane for ``azure-keyvault-secrets``: ``PUT /secrets/{name}``,
``GET /secrets/{name}[/{version}]``, ``GET /secrets``, ``GET /secrets/{name}/versions``. Every
call needs an ``api-version`` and a bearer token this emulator issued for Key Vault
(``aud`` ``https://vault.azure.net``) in the vault's tenant (the seed's first one).

A request without a token gets Key Vault's challenge: 401 with ``WWW-Authenticate: Bearer
authorization="<authority>/<tenant>", resource="https://vault.azure.net"``, which is how
``SecretClient`` learns where to get a token. Real vaults live at ``<name>.vault.azure.net``, and
``SecretClient`` checks that the vault's host ends with the challenge's resource domain; a
loopback vault cannot pass that check, so clients of this one pass
``verify_challenge_resource=False``.

Secrets live in memory for the emulator's lifetime (``/admin/reset`` keeps them). Their values
count as issued secrets (``/admin/issued`` ``vault_secrets``), so leak checks look for them too.
One secret is there from the start: ``notebook-greeting``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ._context import EmulatorContext

__all__ = ["KEY_VAULT_RESOURCE", "SEEDED_SECRET", "build_keyvault_app", "info"]

KEY_VAULT_RESOURCE = "https://vault.azure.net"
AUDIENCES = (KEY_VAULT_RESOURCE, KEY_VAULT_RESOURCE + "/")
SEEDED_SECRET = "notebook-greeting"
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")


@dataclass
class _Version:
    version: str
    value: str
    content_type: str | None
    tags: dict[str, Any]
    created: int
    enabled: bool = True


@dataclass
class _Secrets:
    """name (lower case) -> versions, oldest first; one lock, as requests are tiny."""

    names: dict[str, tuple[str, list[_Version]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(
        self, name: str, value: str, content_type: str | None, tags: dict[str, Any]
    ) -> _Version:
        version = _Version(uuid.uuid4().hex, value, content_type, tags, int(time.time()))
        with self.lock:
            display, versions = self.names.setdefault(name.lower(), (name, []))
            versions.append(version)
        return version

    def get(self, name: str) -> tuple[str, list[_Version]] | None:
        with self.lock:
            found = self.names.get(name.lower())
            return (found[0], list(found[1])) if found else None

    def all(self) -> list[tuple[str, _Version]]:
        with self.lock:
            return [(display, versions[-1]) for display, versions in self.names.values()]


def info(ctx: EmulatorContext, url: str) -> dict[str, Any]:
    """The ready file's ``key_vault`` entry."""
    return {
        "url": url,
        "tenant_id": ctx.directory.tenants[0].tenant_id,
        "resource": KEY_VAULT_RESOURCE,
        "secrets": [SEEDED_SECRET],
    }


def _error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def build_keyvault_app(ctx: EmulatorContext, vault_url: str) -> ASGIApp:
    """The vault's ASGI app; ``vault_url`` is its own base URL (``https://127.0.0.1:<port>/``)."""
    base = vault_url.rstrip("/")
    tenant_id = ctx.directory.tenants[0].tenant_id
    secrets = _Secrets()
    state = ctx.state
    with state.lock:
        state.issued.setdefault("vault_secrets", [])

    def store(
        name: str, value: str, content_type: str | None = None, tags: dict[str, Any] | None = None
    ) -> _Version:
        # Recorded before it can be read back, so a leak check never misses a value.
        state.record_issued("vault_secrets", value)
        return secrets.put(name, value, content_type, tags or {})

    store(
        SEEDED_SECRET,
        "Hello from the emulator's Key Vault. " + uuid.uuid4().hex,
        "text/plain",
        {"purpose": "nbauth tutorials"},
    )

    def challenge(code: str, message: str) -> Response:
        header = (
            f'Bearer authorization="{ctx.authority_host}/{tenant_id}", '
            f'resource="{KEY_VAULT_RESOURCE}"'
        )
        return _error(code, message, 401, {"WWW-Authenticate": header})

    def authenticate(request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return challenge("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
        try:
            claims = ctx.issuer.verify_access_token(token.strip(), AUDIENCES)
        except jwt.ExpiredSignatureError:
            return challenge("Unauthorized", "AKV10022: Invalid audience or expired token.")
        except jwt.PyJWTError:
            return challenge(
                "Unauthorized",
                f"AKV10022: Invalid audience. Expected {KEY_VAULT_RESOURCE}: ask for the scope "
                f"{KEY_VAULT_RESOURCE}/.default.",
            )
        if claims.get("tid") != tenant_id:
            return challenge(
                "Unauthorized",
                f"AKV10032: Invalid issuer. Expected a token from tenant {tenant_id}.",
            )
        return None

    def attributes(v: _Version) -> dict[str, Any]:
        return {
            "enabled": v.enabled,
            "created": v.created,
            "updated": v.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        }

    def properties(name: str, v: _Version, *, with_version: bool) -> dict[str, Any]:
        item = {
            "id": f"{base}/secrets/{name}" + (f"/{v.version}" if with_version else ""),
            "attributes": attributes(v),
            "tags": v.tags,
        }
        if v.content_type:
            item["contentType"] = v.content_type
        return item

    def bundle(name: str, v: _Version) -> JSONResponse:
        return JSONResponse({"value": v.value, **properties(name, v, with_version=True)})

    def not_found(name: str) -> Response:
        return _error(
            "SecretNotFound",
            f"A secret with (name/id) {name} was not found in this key vault. If you recently "
            f"deleted this secret you may be able to recover it using the correct recovery "
            f"command.",
            404,
        )

    async def set_secret(request: Request, name: str) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            return _error("BadParameter", "The request body must hold a string 'value'.", 400)
        tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
        version = store(name, body["value"], body.get("contentType"), tags)
        return bundle(name, version)

    def get_secret(name: str, version: str) -> Response:
        found = secrets.get(name)
        if found is None:
            return not_found(name)
        display, versions = found
        chosen = (
            versions[-1]
            if not version
            else next((v for v in versions if v.version == version.lower()), None)
        )
        if chosen is None:
            return _error(
                "SecretNotFound",
                f"A secret with (name/id) {name}/{version} was not found in this key vault.",
                404,
            )
        return bundle(display, chosen)

    def list_secrets() -> Response:
        value = [properties(n, v, with_version=False) for n, v in secrets.all()]
        return JSONResponse({"value": value, "nextLink": None})

    def list_versions(name: str) -> Response:
        found = secrets.get(name)
        if found is None:
            return not_found(name)
        display, versions = found
        value = [properties(display, v, with_version=True) for v in versions]
        return JSONResponse({"value": value, "nextLink": None})

    async def dispatch(request: Request) -> Response:
        refused = authenticate(request)
        if refused is not None:
            return refused
        if not request.query_params.get("api-version"):
            return _error("BadParameter", "The 'api-version' query parameter is required.", 400)
        parts = request.url.path.split("/")[1:]  # "/secrets/a/" -> ["secrets", "a", ""]
        method = request.method
        if parts and parts[0] == "secrets":
            if len(parts) > 1 and parts[1] and not _NAME.fullmatch(parts[1]):
                return _error(
                    "BadParameter",
                    "Secret names are 1-127 letters, digits and dashes.",
                    400,
                )
            if method == "GET" and parts in (["secrets"], ["secrets", ""]):
                return list_secrets()
            if len(parts) == 2 and method == "PUT":
                return await set_secret(request, parts[1])
            if len(parts) == 3 and parts[2] == "versions" and method == "GET":
                return list_versions(parts[1])
            if len(parts) in (2, 3) and method == "GET":
                return get_secret(parts[1], parts[2] if len(parts) == 3 else "")
        return _error(
            "NotSupported",
            f"The nbauth emulator's Key Vault serves only secrets (get, set, list); not "
            f"{method} {request.url.path}.",
            400,
        )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await dispatch(request)
        response.headers["x-ms-request-id"] = str(uuid.uuid4())
        response.headers["x-ms-keyvault-service-version"] = "1.9.0.0"
        await response(scope, receive, send)

    return app
