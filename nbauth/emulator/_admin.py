"""The admin API (JSON under /admin): drive sign-ins, settings, faults and logs from tests.

=======  =============  ==================================================================
POST     /approve       ``{"username", "user_code"?}`` (no code: the newest pending one);
                        answers ``status`` ``blocked`` when Conditional Access refuses it
POST     /decline       ``{"user_code"?}``
POST     /expire        ``{"user_code"?}``
POST     /revoke        ``{"username"}``: the user's refresh tokens fail with AADSTS50173
GET/POST /settings      partial update, returns all (see ``_state.DEFAULT_SETTINGS``), e.g.
                        ``block_device_code``: true / [tenant ids or domains]
                        (``_conditional_access``); ``clock_offset_s``: skip the emulator's
                        clock ahead (code and refresh-token lifetimes)
GET/POST /faults        ``{"endpoint", "status"?, "body"?, "delay_s"?, "drop"?, "count"?,
                        "headers"?, "patch"?, "content_type"?, "body_bytes"?}``: ``patch``
                        is merged into the real JSON answer; ``body_bytes`` makes it huge
                        (endpoints: ``_faults.FAULT_ENDPOINTS``)
GET      /requests      every identity/ARM request: time, method, path, endpoint, grant_type,
                        client_id, status (never secrets); DELETE clears it
GET      /issued        every token, refresh token, device and authorization code, PKCE
                        verifier sent to it, secret and password issued or known
GET      /pending       pending device codes, without their device_code
GET      /directory     the seeded tenants, users, subscriptions (no secrets)
POST     /reset         faults, log, settings and pending codes back to the start
=======  =============  ==================================================================

Errors are 4xx with ``{"error": "what is wrong and what to do"}``. Loopback only: the server
binds 127.0.0.1, so every client is loopback and the 403 branch below cannot be reached from a
test; it guards against someone serving the app elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import _approval
from ._conditional_access import setting_problem
from ._context import EmulatorContext
from ._state import AdminError

LOOPBACK = ("127.0.0.1", "::1", "localhost")

Body = dict[str, Any]
Handler = Callable[[Request, Body], object]


def _text(body: Body, key: str) -> str | None:
    """A string field of the request, or None; anything else is the caller's mistake (a 400)."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise AdminError(f"{key!r} must be a string; got {value!r}.")
    return value


def admin_routes(ctx: EmulatorContext) -> list[Route]:
    state = ctx.state

    def handler(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else None
            if client not in LOOPBACK:
                return JSONResponse(
                    {"error": "The admin API answers loopback clients only."}, status_code=403
                )
            body: dict[str, Any] = {}
            if request.method in ("POST", "PUT"):
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except json.JSONDecodeError:
                        return JSONResponse({"error": "Send a JSON object body."}, status_code=400)
                    if not isinstance(body, dict):
                        return JSONResponse({"error": "Send a JSON object body."}, status_code=400)
            try:
                result = fn(request, body)
            except AdminError as exc:
                return JSONResponse({"error": str(exc)}, status_code=exc.status)
            return JSONResponse(result)

        return endpoint

    def approve(request: Request, body: Body) -> Body:
        code = _approval.approve(ctx, _text(body, "username") or "", _text(body, "user_code"))
        # "blocked": the person signed in, and Conditional Access refused the device code.
        return {"user_code": code.user_code, "username": code.username, "status": code.status}

    def decline(request: Request, body: Body) -> Body:
        return {"user_code": _approval.decline(ctx, _text(body, "user_code")).user_code}

    def expire(request: Request, body: Body) -> Body:
        return {"user_code": _approval.expire(ctx, _text(body, "user_code")).user_code}

    def revoke(request: Request, body: Body) -> Body:
        username = _text(body, "username") or ""
        if ctx.directory.user(username) is None:
            raise AdminError(f"Unknown user {username!r}.", 404)
        return {"username": username, "revoked": state.revoke(username)}

    def settings(request: Request, body: Body) -> Body:
        if request.method == "POST":
            auto = _text(body, "auto_approve")
            if auto and ctx.directory.user(auto) is None:
                raise AdminError(f"Unknown user {auto!r} for auto_approve.", 404)
            if "block_device_code" in body:
                problem = setting_problem(body["block_device_code"], ctx.directory)
                if problem:
                    raise AdminError(problem)
            return state.update_settings(body)
        return state.get_settings()

    def faults(request: Request, body: Body) -> Body:
        if request.method == "POST":
            return state.add_fault(body)
        with state.lock:
            return {k: [vars(f) for f in v] for k, v in state.faults.items() if v}

    def requests_(request: Request, body: Body) -> object:
        if request.method == "DELETE":
            state.clear_requests()
            return {"cleared": True}
        return state.requests()

    def issued(request: Request, body: Body) -> Body:
        return state.issued_snapshot()

    def reset(request: Request, body: Body) -> Body:
        state.reset()
        return {"reset": True, "settings": state.get_settings()}

    def pending(request: Request, body: Body) -> list[Body]:
        return state.pending()

    def directory(request: Request, body: Body) -> Body:
        d = ctx.directory
        return {
            "tenants": [vars(t) for t in d.tenants],
            "users": [
                {
                    "username": u.username,
                    "display_name": u.display_name,
                    "home_tenant_id": u.home_tenant_id,
                    "oids": u.oids,
                    "mfa_required": u.mfa_required,
                }
                for u in d.users
            ],
            "subscriptions": [
                {
                    "subscription_id": s.subscription_id,
                    "tenant_id": s.tenant_id,
                    "display_name": s.display_name,
                    "users": sorted(s.users),
                    "service_principals": sorted(s.service_principals),
                }
                for s in d.subscriptions
            ],
            "public_clients": d.public_clients,
        }

    return [
        Route("/admin/approve", handler(approve), methods=["POST"]),
        Route("/admin/decline", handler(decline), methods=["POST"]),
        Route("/admin/expire", handler(expire), methods=["POST"]),
        Route("/admin/revoke", handler(revoke), methods=["POST"]),
        Route("/admin/settings", handler(settings), methods=["GET", "POST"]),
        Route("/admin/faults", handler(faults), methods=["GET", "POST"]),
        Route("/admin/requests", handler(requests_), methods=["GET", "DELETE"]),
        Route("/admin/issued", handler(issued), methods=["GET"]),
        Route("/admin/reset", handler(reset), methods=["POST"]),
        Route("/admin/pending", handler(pending), methods=["GET"]),
        Route("/admin/directory", handler(directory), methods=["GET"]),
    ]
