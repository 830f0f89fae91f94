"""The identity platform v2 routes: OIDC discovery, JWKS, device authorization, token.

Any tenant path segment works as in Entra: a tenant id, a verified domain, ``organizations`` or
``common``. Error texts follow Entra's (``AADSTSnnnnn: ...``) so client code that matches on
codes behaves as it will in production.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ._authorization_codes import GRANT_AUTHORIZATION_CODE, AuthorizationCodes
from ._authorize import AuthorizeFlow
from ._client_auth import basic_auth_client
from ._context import EmulatorContext, read_form
from ._errors import NO_STORE, EntraFailure, missing_parameter
from ._grants import GRANT_DEVICE_CODE, TokenGrants

_ENDPOINTS = (
    ("POST", re.compile(r"^/[^/]+/oauth2/v2\.0/token$"), "token"),
    ("POST", re.compile(r"^/[^/]+/oauth2/v2\.0/devicecode$"), "devicecode"),
    ("GET", re.compile(r"^/[^/]+/v2\.0/\.well-known/openid-configuration$"), "discovery"),
    ("GET", re.compile(r"^/[^/]+/discovery/v2\.0/keys$"), "jwks"),
    ("GET", re.compile(r"^/common/userrealm/[^/]+$"), "userrealm"),
    ("GET", re.compile(r"^/[^/]+/oauth2/v2\.0/authorize$"), "authorize"),
    ("POST", re.compile(r"^/[^/]+/oauth2/v2\.0/authorize$"), "authorize"),
)


def classify(method: str, path: str) -> str | None:
    """The endpoint name used by faults and the request log."""
    for m, pattern, name in _ENDPOINTS:
        if method == m and pattern.match(path):
            return name
    return None


def build_identity_app(ctx: EmulatorContext) -> Starlette:
    grants = TokenGrants(ctx)
    codes = AuthorizationCodes(ctx, grants)  # issued by GET /authorize, redeemed at /token
    authorize = AuthorizeFlow(ctx, grants, codes)
    state = ctx.state

    async def openid_configuration(request: Request) -> Response:
        segment = request.path_params["tenant"]
        try:
            tenant = grants.resolve_tenant(segment)
        except EntraFailure as fail:
            return fail.response(request)
        base = ctx.authority_host
        path_tenant = tenant.tenant_id if tenant else segment
        issuer_tid = tenant.tenant_id if tenant else "{tenantid}"
        return JSONResponse(
            {
                "token_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/{path_tenant}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{issuer_tid}/v2.0",
                "request_uri_parameter_supported": False,
                "authorization_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "cloud_instance_name",
                    "cloud_instance_host_name",
                    "cloud_graph_host_name",
                    "msgraph_host",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "at_hash",
                    "c_hash",
                    "email",
                ],
                "kerberos_endpoint": f"{base}/{path_tenant}/kerberos",
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def jwks(request: Request) -> Response:
        segment = request.path_params["tenant"]
        try:
            tenant = grants.resolve_tenant(segment)
        except EntraFailure as fail:
            return fail.response(request)
        issuer_tid = tenant.tenant_id if tenant else "{tenantid}"
        return JSONResponse({"keys": [ctx.key.jwk(f"{ctx.authority_host}/{issuer_tid}/v2.0")]})

    async def devicecode(request: Request) -> Response:
        segment = request.path_params["tenant"]
        form = await read_form(request)
        try:
            tenant = grants.resolve_tenant(segment)
            client_id = form.get("client_id")
            if not client_id:
                raise missing_parameter("client_id")
            grants.require_public_client(client_id, segment, tenant)
            scopes = grants.scopes_of(form)
        except EntraFailure as fail:
            return fail.response(request)
        code = state.new_device_code(
            segment,
            tenant.tenant_id if tenant else None,
            client_id.lower(),
            scopes.requested,
            may_sign_in=grants.may_sign_in,
        )
        url = ctx.device_login_url
        return JSONResponse(
            {
                "user_code": code.user_code,
                "device_code": code.device_code,
                "verification_uri": url,
                "expires_in": int(code.expires_at - code.created),
                "interval": code.interval,
                "message": f"To sign in, use a web browser to open the page {url} and enter the code {code.user_code} to authenticate.",
            },
            headers=NO_STORE,
        )

    async def token(request: Request) -> Response:
        segment = request.path_params["tenant"]
        form = await read_form(request)
        try:
            tenant = grants.resolve_tenant(segment)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise missing_parameter("grant_type")
            client_id = form.get("client_id") or basic_auth_client(request)
            if not client_id:
                raise missing_parameter("client_id")
            form["client_id"] = client_id
            if grant_type == GRANT_DEVICE_CODE:
                body = grants.device_code_grant(form, segment, tenant)
            elif grant_type == "refresh_token":
                body = grants.refresh_token_grant(form, segment, tenant)
            elif grant_type == "password":
                body = grants.password_grant(form, segment, tenant)
            elif grant_type == GRANT_AUTHORIZATION_CODE:
                body = codes.authorization_code_grant(form, segment, tenant)
            elif grant_type == "client_credentials":
                body = grants.client_credentials_grant(form, request, segment, tenant)
            else:
                raise EntraFailure(
                    70003,
                    "unsupported_grant_type",
                    f"The app requested an unsupported grant type '{grant_type}'.",
                )
        except EntraFailure as fail:
            return fail.response(request)
        return JSONResponse(
            body,
            headers={**NO_STORE, "client-request-id": request.headers.get("client-request-id", "")},
        )

    async def userrealm(request: Request) -> Response:
        username = request.path_params["username"]
        domain = username.rpartition("@")[2]
        tenant = ctx.directory.tenant(domain) if domain else None
        body = {
            "ver": "1.0",
            "account_type": "Managed" if tenant else "Unknown",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }
        if tenant:
            body["domain_name"] = tenant.domain
            body["federation_brand_name"] = tenant.display_name
        return JSONResponse(body)

    async def error_page(request: Request) -> Response:
        code = request.query_params.get("code", "")
        text = quote(code, safe="")
        return HTMLResponse(
            f"<!doctype html><title>AADSTS{text}</title><p>AADSTS{text}: an error of the nbauth "
            "emulator, which mimics Microsoft Entra ID. See the error_description of the response.</p>"
        )

    return Starlette(
        routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
            Route("/{tenant}/discovery/v2.0/keys", jwks),
            Route("/{tenant}/oauth2/v2.0/devicecode", devicecode, methods=["POST"]),
            Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
            Route("/common/userrealm/{username}", userrealm),
            Route("/error", error_page),
            *authorize.routes(),
        ]
    )
