"""A slice of Azure Resource Manager: tenants, subscriptions, resource groups.

Shaped like ARM's JSON so azure-mgmt-resource's ``SubscriptionClient`` and
``ResourceManagementClient`` parse it. Every call needs a bearer token this emulator issued for
ARM and an ``api-version`` query parameter, as ARM does.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._context import EmulatorContext
from ._errors import arm_error
from ._seed import Subscription
from ._tokens import ARM_AUDIENCES

Claims = dict[str, Any]
Handler = Callable[[Request, Claims], Response]


def build_arm_app(ctx: EmulatorContext) -> Starlette:
    directory = ctx.directory

    def challenge(code: str, message: str) -> Response:
        description = message.replace('"', "'")
        header = (
            f'Bearer authorization_uri="{ctx.authority_host}/", error="invalid_token", '
            f'error_description="{description}"'
        )
        return arm_error(code, message, 401, headers={"WWW-Authenticate": header})

    def authenticate(request: Request) -> dict[str, Any] | Response:
        header = request.headers.get("authorization", "")
        if not header:
            return challenge(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return challenge(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is not in a valid format.",
            )
        try:
            return ctx.issuer.verify_access_token(token.strip(), ARM_AUDIENCES)
        except jwt.ExpiredSignatureError:
            return challenge(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )
        except jwt.InvalidAudienceError:
            return challenge(
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
            )
        except jwt.PyJWTError:
            return challenge("InvalidAuthenticationToken", "The access token is invalid.")

    def caller(claims: Claims) -> tuple[set[str], Callable[[Subscription], bool]]:
        """The caller's tenants (home + guest) and a test for 'may see this subscription'."""
        if claims.get("idtyp") == "app":
            sp = directory.service_principal(claims.get("appid", "").lower())
            tenants = {sp.tenant_id} if sp else set()
            return tenants, lambda s: sp is not None and sp.client_id in s.service_principals
        user = directory.user_by_oid(claims["tid"], claims.get("oid", ""))
        tenants = set(user.oids) if user else set()
        return tenants, lambda s: user is not None and user.username.lower() in s.users

    def subscription_json(s: Subscription) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{s.subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "tags": {},
            "subscriptionId": s.subscription_id,
            "tenantId": s.tenant_id,
            "displayName": s.display_name,
            "state": s.state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }

    def guarded(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            claims = authenticate(request)
            if isinstance(claims, Response):
                return claims
            if not request.query_params.get("api-version"):
                return arm_error(
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                    400,
                )
            response = handler(request, claims)
            request_id = str(uuid.uuid4())
            response.headers["x-ms-request-id"] = request_id
            response.headers["x-ms-correlation-request-id"] = request.headers.get(
                "x-ms-client-request-id", request_id
            )
            response.headers["x-ms-ratelimit-remaining-tenant-reads"] = "11999"
            return response

        return endpoint

    def visible(claims: dict[str, Any]) -> list[Subscription]:
        _, may_see = caller(claims)
        return [s for s in directory.subscriptions if s.tenant_id == claims["tid"] and may_see(s)]

    def find(claims: dict[str, Any], subscription_id: str) -> Subscription | Response:
        wanted = subscription_id.lower()
        for s in visible(claims):
            if s.subscription_id == wanted:
                return s
        return arm_error(
            "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.", 404
        )

    def tenants(request: Request, claims: dict[str, Any]) -> Response:
        tenant_ids, _ = caller(claims)
        value = [
            {
                "id": f"/tenants/{t.tenant_id}",
                "tenantId": t.tenant_id,
                "countryCode": t.country_code,
                "displayName": t.display_name,
                "domains": [t.domain],
                "defaultDomain": t.domain,
                "tenantCategory": "Home",
                "tenantType": "AAD",
            }
            for t in directory.tenants
            if t.tenant_id in tenant_ids
        ]
        return JSONResponse({"value": value})

    def subscriptions(request: Request, claims: dict[str, Any]) -> Response:
        return JSONResponse(
            {
                "count": {"type": "Total", "value": len(visible(claims))},
                "value": [subscription_json(s) for s in visible(claims)],
            }
        )

    def subscription(request: Request, claims: dict[str, Any]) -> Response:
        found = find(claims, request.path_params["subscription_id"])
        return found if isinstance(found, Response) else JSONResponse(subscription_json(found))

    def resource_groups(request: Request, claims: dict[str, Any]) -> Response:
        found = find(claims, request.path_params["subscription_id"])
        if isinstance(found, Response):
            return found
        value = [
            {
                "id": f"/subscriptions/{found.subscription_id}/resourceGroups/{rg['name']}",
                "name": rg["name"],
                "type": "Microsoft.Resources/resourceGroups",
                "location": rg.get("location", "westeurope"),
                "properties": {"provisioningState": "Succeeded"},
            }
            for rg in found.resource_groups
        ]
        return JSONResponse({"value": value})

    async def not_found(request: Request) -> Response:
        claims = authenticate(request)
        if isinstance(claims, Response):
            return claims
        return arm_error(
            "InvalidResourceType",
            f"The resource type could not be found in the namespace for api version '{request.query_params.get('api-version', '')}'. The nbauth emulator serves only /tenants, /subscriptions and resource groups.",
            404,
        )

    return Starlette(
        routes=[
            Route("/tenants", guarded(tenants)),
            Route("/subscriptions", guarded(subscriptions)),
            Route("/subscriptions/{subscription_id}", guarded(subscription)),
            Route("/subscriptions/{subscription_id}/resourcegroups", guarded(resource_groups)),
            Route("/subscriptions/{subscription_id}/resourceGroups", guarded(resource_groups)),
            Route("/{path:path}", not_found),
        ]
    )
