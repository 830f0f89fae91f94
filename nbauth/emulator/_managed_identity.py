"""Managed identity token endpoints on loopback: App Service style and IMDS style.

Served over plain HTTP on the emulator's HTTP port, as the real ones are (App Service's
``IDENTITY_ENDPOINT`` is an ``http://localhost`` URL; IMDS is ``http://169.254.169.254``):

- ``GET /msi/token`` — App Service / Functions / Container Apps, api-version ``2019-08-01``:
  ``resource`` plus optionally ``client_id`` / ``principal_id`` / ``object_id`` / ``mi_res_id``,
  header ``X-IDENTITY-HEADER`` (the ``IDENTITY_HEADER`` secret, fresh at every start).
  Answers ``{access_token, expires_on, resource, token_type, client_id}``.
- ``GET /metadata/identity/oauth2/token`` — IMDS, api-version ``2018-02-01``: ``resource``
  plus optionally ``client_id`` / ``object_id`` / ``msi_res_id``, header ``Metadata: true``
  (without it: 400 "Required metadata header not specified", which is also how a probe tells
  a real IMDS from something else answering on that address). Point
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` at the HTTP base URL to use it.

Tokens are issued for the seed's ``managed_identities`` (no identity named: the system-assigned
one). Every call is in the request log with ``server: "managed_identity"`` and ``endpoint``
``msi`` or ``imds``, never with the header secret.
"""

from __future__ import annotations

import secrets
import socket
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._context import EmulatorContext
from ._seed import MANAGED_IDENTITY_SYSTEM, ServicePrincipal

APP_SERVICE_PATH = "/msi/token"
IMDS_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_API_VERSION = "2019-08-01"
IMDS_API_VERSION = "2018-02-01"


class NoImds:
    """A loopback address where nothing answers, for ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` in
    the emulator's ``env``: a process pointed at the emulator then never sends a managed
    identity probe to 169.254.169.254, and learns at once (connection refused) that there is no
    instance metadata service. The port stays bound, not listening, while the emulator runs,
    so nothing else can take it."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def close(self) -> None:
        self._sock.close()


def new_identity_header() -> str:
    """The ``IDENTITY_HEADER`` secret for one emulator run."""
    return "emu-mi-header~" + secrets.token_urlsafe(24)


def _identities(ctx: EmulatorContext) -> list[ServicePrincipal]:
    return [sp for sp in ctx.directory.service_principals if sp.is_managed_identity]


def _find(
    ctx: EmulatorContext, params: dict[str, str], res_id_param: str
) -> ServicePrincipal | None:
    wanted = {
        "client_id": params.get("client_id", "").lower(),
        "object_id": (params.get("object_id") or params.get("principal_id") or "").lower(),
        "resource_id": params.get(res_id_param, "").lower(),
    }
    for mi in _identities(ctx):
        if wanted["client_id"]:
            if mi.client_id == wanted["client_id"]:
                return mi
        elif wanted["object_id"]:
            if mi.object_id == wanted["object_id"]:
                return mi
        elif wanted["resource_id"]:
            if (mi.resource_id or "").lower() == wanted["resource_id"]:
                return mi
        elif mi.kind == MANAGED_IDENTITY_SYSTEM:
            return mi
    return None


def info(ctx: EmulatorContext, http_base: str, header: str) -> dict[str, Any]:
    """The ready file's ``managed_identity`` entry."""
    system = next((mi for mi in _identities(ctx) if mi.kind == MANAGED_IDENTITY_SYSTEM), None)
    return {
        "endpoint": f"{http_base}{APP_SERVICE_PATH}",
        "header": header,
        "imds_endpoint": http_base,
        "system": (
            {"client_id": system.client_id, "object_id": system.object_id} if system else None
        ),
        "user_assigned": [
            {"client_id": mi.client_id, "object_id": mi.object_id, "resource_id": mi.resource_id}
            for mi in _identities(ctx)
            if mi.kind != MANAGED_IDENTITY_SYSTEM
        ],
        "env": {"IDENTITY_ENDPOINT": f"{http_base}{APP_SERVICE_PATH}", "IDENTITY_HEADER": header},
    }


def managed_identity_routes(ctx: EmulatorContext, header: str) -> list[Route]:
    state = ctx.state

    def log(request: Request, endpoint: str, status: int, client_id: str | None) -> None:
        state.log_request(
            {
                "time": time.time(),
                "server": "managed_identity",
                "method": request.method,
                "path": request.url.path,
                "endpoint": endpoint,
                "grant_type": None,
                "client_id": client_id,
                "status": status,
            }
        )

    def issue(mi: ServicePrincipal, resource: str) -> tuple[str, int]:
        lifetime = state.get_settings()["access_token_lifetime_s"]
        token = ctx.issuer.app_access_token(mi, resource, lifetime, with_certificate=True)
        state.record_issued("access_tokens", token)
        return token, lifetime

    async def app_service(request: Request) -> Response:
        params = dict(request.query_params)

        def fail(status: int, message: str) -> Response:
            log(request, "msi", status, None)
            return JSONResponse({"statusCode": status, "message": message}, status_code=status)

        if not secrets.compare_digest(
            request.headers.get("x-identity-header", "").encode(), header.encode()
        ):
            return fail(401, "The X-IDENTITY-HEADER header is missing or wrong.")
        if params.get("api-version") != APP_SERVICE_API_VERSION:
            return fail(400, f"api-version must be {APP_SERVICE_API_VERSION}.")
        resource = params.get("resource", "")
        if not resource:
            return fail(400, "The resource parameter is required.")
        mi = _find(ctx, params, "mi_res_id")
        if mi is None:
            return fail(400, "No managed identity was found for the specified identity.")
        token, lifetime = issue(mi, resource)
        log(request, "msi", 200, mi.client_id)
        return JSONResponse(
            {
                "access_token": token,
                "expires_on": str(int(time.time()) + lifetime),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": mi.client_id,
            }
        )

    async def imds(request: Request) -> Response:
        params = dict(request.query_params)

        def fail(status: int, error: str, description: str) -> Response:
            log(request, "imds", status, None)
            return JSONResponse(
                {"error": error, "error_description": description}, status_code=status
            )

        if request.headers.get("metadata", "").lower() != "true":
            return fail(400, "invalid_request", "Required metadata header not specified")
        if params.get("api-version") != IMDS_API_VERSION:
            return fail(400, "invalid_request", "Invalid api-version")
        resource = params.get("resource", "")
        if not resource:
            return fail(400, "invalid_request", "Required audience parameter not specified")
        mi = _find(ctx, params, "msi_res_id")
        if mi is None:
            return fail(400, "invalid_request", "Identity not found")
        token, lifetime = issue(mi, resource)
        now = int(time.time())
        log(request, "imds", 200, mi.client_id)
        return JSONResponse(
            {
                "access_token": token,
                "client_id": mi.client_id,
                "expires_in": str(lifetime),
                "expires_on": str(now + lifetime),
                "ext_expires_in": str(lifetime),
                "not_before": str(now),
                "resource": resource,
                "token_type": "Bearer",
            }
        )

    return [
        Route(APP_SERVICE_PATH, app_service, methods=["GET"]),
        Route(IMDS_PATH, imds, methods=["GET"]),
    ]
