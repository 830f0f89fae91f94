"""The token endpoint's grants, answering like Entra.

Each grant either returns the JSON body of a successful token response or raises
``EntraFailure``, which the route turns into Entra's error shape at one place. How a confidential
client proves itself is ``_client_auth``'s job; the authorization-code grant lives with the codes
it redeems (``_authorization_codes``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from starlette.requests import Request

from ._approval import device_code_blocked
from ._client_auth import authenticate_client, missing_client_credentials
from ._conditional_access import refusal
from ._context import EmulatorContext, Form
from ._errors import EntraFailure, missing_parameter
from ._seed import Tenant, User
from ._state import DeviceCode
from ._tokens import RESERVED_SCOPES, ResourceScopes, ScopeError, client_info, parse_scopes

MULTI_TENANT = ("organizations", "common")
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


class TokenGrants:
    """The grants of ``POST /{tenant}/oauth2/v2.0/token`` over one emulator's directory."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.directory, self.state, self.issuer = ctx.directory, ctx.state, ctx.issuer

    def resolve_tenant(self, segment: str) -> Tenant | None:
        """None for organizations/common; raises AADSTS90002 for an unknown tenant."""
        if segment.lower() in MULTI_TENANT:
            return None
        tenant = self.directory.tenant(segment)
        if tenant is None:
            raise EntraFailure(
                90002,
                "invalid_tenant",
                f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud. Check with your subscription administrator, this may "
                "happen if there are no active subscriptions for the tenant.",
            )
        return tenant

    def may_sign_in(self, username: str, tenant_id: str | None) -> bool:
        user = self.directory.user(username)
        return user is not None and (tenant_id is None or tenant_id in user.oids)

    def tenant_name(self, segment: str, tenant: Tenant | None) -> str:
        return tenant.display_name if tenant else segment

    def require_public_client(self, client_id: str, segment: str, tenant: Tenant | None) -> None:
        if client_id.lower() in self.directory.public_clients:
            return
        if self.directory.service_principal(client_id.lower()) is not None:
            raise missing_client_credentials()
        raise unknown_client(client_id, self.tenant_name(segment, tenant))

    def user_tenant(self, user: User, tenant: Tenant | None, client_id: str) -> str:
        """The tenant the token is for: the path's, if the user is a member or guest there."""
        if tenant is None:
            return user.home_tenant_id
        if tenant.tenant_id in user.oids:
            return tenant.tenant_id
        home = self.directory.tenant(user.home_tenant_id)
        raise EntraFailure(
            50020,
            "invalid_grant",
            f"User account '{user.username}' from identity provider "
            f"'https://sts.windows.net/{home.tenant_id if home else user.home_tenant_id}/' does not exist in "
            f"tenant '{tenant.display_name}' and cannot access the application '{client_id}'"
            f"({self.directory.app_name(client_id)}) in that tenant. The account needs to be added as an "
            "external user in the tenant first. Sign out and sign in again with a different Azure "
            "Active Directory user account.",
        )

    def scopes_of(self, form: Form, fallback: list[str] | None = None) -> ResourceScopes:
        scope = form.get("scope")
        if not scope and fallback:
            scope = " ".join(fallback)
        if not scope:
            raise EntraFailure(
                70011,
                "invalid_scope",
                "The provided request must include a 'scope' input parameter.",
            )
        try:
            return parse_scopes(scope)
        except ScopeError as exc:
            raise EntraFailure(exc.code, "invalid_scope", str(exc)) from None

    def user_tokens(
        self,
        form: Form,
        user: User,
        tenant_id: str,
        client_id: str,
        scopes: ResourceScopes,
        mfa: bool,
    ) -> dict[str, Any]:
        settings = self.state.get_settings()
        lifetime = settings["access_token_lifetime_s"]
        access_token = self.issuer.user_access_token(
            user, tenant_id, client_id, scopes, lifetime, mfa
        )
        self.state.record_issued("access_tokens", access_token)
        resource_scopes = [s for s in scopes.requested if s not in RESERVED_SCOPES]
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": " ".join(resource_scopes or scopes.requested),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
        if settings["refresh_in_s"] is not None:
            body["refresh_in"] = settings["refresh_in_s"]
        if "offline_access" in scopes.requested:
            body["refresh_token"] = self.state.new_refresh_token(
                user.username, client_id, scopes.requested
            )
        if "openid" in scopes.requested:
            id_token = self.issuer.id_token(user, tenant_id, client_id, lifetime)
            self.state.record_issued("id_tokens", id_token)
            body["id_token"] = id_token
        if form.get("client_info") == "1":
            body["client_info"] = client_info(user)
        return body

    # -- grants -----------------------------------------------------------------------------

    def device_code_grant(self, form: Form, segment: str, tenant: Tenant | None) -> dict[str, Any]:
        client_id = form["client_id"]
        self.require_public_client(client_id, segment, tenant)
        value = form.get("device_code")
        if not value:
            raise missing_parameter("device_code")
        with self.state.lock:
            now = self.state.now()
            code = self.state.device_codes.get(value)
            if code is None or code.client_id != client_id.lower():
                raise EntraFailure(
                    70000, "invalid_grant", "Provided grant is invalid or malformed."
                )
            if code.status == "redeemed":
                raise EntraFailure(
                    54005,
                    "invalid_grant",
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                )
            if code.status == "declined":
                raise EntraFailure(
                    70000,
                    "authorization_declined",
                    "The user has declined to authorize the application.",
                )
            if code.expired(now):
                raise EntraFailure(
                    70020,
                    "expired_token",
                    "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
                )
            self.state.apply_auto_approvals(now)
            self._judge_auto_approval(code)
            if code.status == "blocked":
                raise refusal()
            too_soon = code.last_poll is not None and now - code.last_poll < code.interval - 0.25
            code.last_poll = now
            # Forced slow_downs (setting) answer even an approved code, so a test can approve first.
            if code.slow_downs_left > 0 or (too_soon and code.status == "pending"):
                code.slow_downs_left = max(0, code.slow_downs_left - 1)
                raise EntraFailure(
                    70016,
                    "slow_down",
                    "OAuth 2.0 device flow error. Polling too frequently; slow down and respect the interval.",
                )
            if code.status == "pending":
                raise EntraFailure(
                    70016,
                    "authorization_pending",
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            code.status = "redeemed"
            user = self.directory.user(code.username or "")
        assert user is not None
        tenant_id = code.tenant_id or user.home_tenant_id
        scopes = parse_scopes(" ".join(code.scopes))
        return self.user_tokens(
            form, user, tenant_id, client_id.lower(), scopes, mfa=user.mfa_required
        )

    def _judge_auto_approval(self, code: DeviceCode) -> None:
        """An auto-approved code meets Conditional Access as a person's approval does."""
        if code.status != "approved" or code.auto_approve_user != code.username:
            return
        user = self.directory.user(code.username or "")
        if user is not None and device_code_blocked(
            self.ctx, code.tenant_id or user.home_tenant_id
        ):
            code.status = "blocked"

    def refresh_token_grant(
        self, form: Form, segment: str, tenant: Tenant | None
    ) -> dict[str, Any]:
        client_id = form["client_id"].lower()
        self.require_public_client(client_id, segment, tenant)
        value = form.get("refresh_token")
        if not value:
            raise missing_parameter("refresh_token")
        grant = self.state.refresh_grants.get(value)
        if grant is None:
            raise EntraFailure(
                9002313, "invalid_grant", "Invalid request. Request is malformed or invalid."
            )
        if grant.client_id != client_id:
            raise EntraFailure(
                70000,
                "invalid_grant",
                "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
            )
        if self.state.is_revoked(grant):
            raise EntraFailure(
                50173,
                "invalid_grant",
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                "The user might have changed or reset their password. The grant was issued on "
                f"'{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(grant.issued_at))}' and the "
                "TokensValidFrom date (before which tokens are not valid) for this user is "
                f"'{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.state.tokens_valid_from.get(grant.username.lower(), 0)))}'.",
                suberror="bad_token",
            )
        if self.state.now() >= grant.expires_at:
            raise EntraFailure(
                700082,
                "invalid_grant",
                "The refresh token has expired due to inactivity. The token was issued on "
                f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(grant.issued_at))} and was inactive for the maximum allowed time.",
                suberror="token_expired",
            )
        user = self.directory.user(grant.username)
        assert user is not None
        tenant_id = self.user_tenant(user, tenant, client_id)
        scopes = self.scopes_of(form, grant.scopes)
        return self.user_tokens(form, user, tenant_id, client_id, scopes, mfa=user.mfa_required)

    def password_grant(self, form: Form, segment: str, tenant: Tenant | None) -> dict[str, Any]:
        client_id = form["client_id"].lower()
        self.require_public_client(client_id, segment, tenant)
        for name in ("username", "password"):
            if not form.get(name):
                raise missing_parameter(name)
        scopes = self.scopes_of(form)
        user = self.directory.user(form["username"])
        if user is None:
            where = tenant.domain if tenant else segment
            raise EntraFailure(
                50034,
                "invalid_grant",
                f"The user account {{EmailHidden}} does not exist in the {where} directory. To sign into this application, the account must be added to the directory.",
            )
        if not secrets.compare_digest(form["password"].encode(), user.password.encode()):
            raise EntraFailure(
                50126,
                "invalid_grant",
                "Error validating credentials due to invalid username or password.",
            )
        tenant_id = self.user_tenant(user, tenant, client_id)
        if user.mfa_required:
            raise EntraFailure(
                50076,
                "interaction_required",
                "Due to a configuration change made by your administrator, or because you moved to a new "
                f"location, you must use multi-factor authentication to access '{scopes.resource}'.",
                suberror="basic_action",
            )
        return self.user_tokens(form, user, tenant_id, client_id, scopes, mfa=False)

    def client_credentials_grant(
        self, form: Form, request: Request, segment: str, tenant: Tenant | None
    ) -> dict[str, Any]:
        client_id = form["client_id"].lower()
        sp = self.directory.service_principal(client_id)
        if sp is None:
            if client_id in self.directory.public_clients:
                raise missing_client_credentials()
            raise unknown_client(client_id, self.tenant_name(segment, tenant))
        if tenant is None:
            raise EntraFailure(
                50194,
                "invalid_request",
                f"Application '{sp.client_id}'({sp.display_name}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
            )
        if tenant.tenant_id != sp.tenant_id:
            raise unknown_client(client_id, tenant.display_name)
        with_certificate = authenticate_client(self.ctx, form, request, sp)
        scope = form.get("scope", "")
        parts = scope.split()
        if len(parts) != 1 or not parts[0].endswith("/.default"):
            raise EntraFailure(
                1002012,
                "invalid_scope",
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        lifetime = self.state.get_settings()["access_token_lifetime_s"]
        resource = parts[0][: -len("/.default")]
        token = self.issuer.app_access_token(sp, resource, lifetime, with_certificate)
        self.state.record_issued("access_tokens", token)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }


def unknown_client(client_id: str, directory_name: str) -> EntraFailure:
    return EntraFailure(
        700016,
        "unauthorized_client",
        f"Application with identifier '{client_id}' was not found in the directory '{directory_name}'. "
        "This can happen if the application has not been installed by the administrator of the tenant "
        "or consented to by any user in the tenant. You may have sent your authentication request to "
        "the wrong tenant.",
    )
