"""Claims and signatures of the tokens the emulator issues, shaped like Entra's.

Access tokens are v1.0 (``iss`` ``https://sts.windows.net/{tid}/``) because that is what Entra
issues for Azure resources (ARM, Storage) and what Azurite checks; id tokens are v2.0.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from ._keys import SigningKey, b64url
from ._seed import ServicePrincipal, User

RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
GRAPH_RESOURCE = "https://graph.microsoft.com"
ARM_AUDIENCES = (
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
)


class ScopeError(ValueError):
    """The requested scopes cannot be granted; carries the AADSTS code to answer with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ResourceScopes:
    resource: str  # the aud of the access token
    permissions: list[str]  # what goes into scp
    requested: list[str]  # every scope as requested (the response's "scope")
    is_default: bool  # requested "<resource>/.default"


def split_resource_scope(scope: str) -> tuple[str, str]:
    """``https://management.azure.com//.default`` -> (``https://management.azure.com/``, ``.default``)."""
    if "/" not in scope:
        return GRAPH_RESOURCE, scope  # a bare permission such as User.Read means Microsoft Graph
    resource, _, permission = scope.rpartition("/")
    return resource, permission


def parse_scopes(scope_param: str) -> ResourceScopes:
    requested = [s for s in scope_param.split() if s]
    resource_scopes = [s for s in requested if s not in RESERVED_SCOPES]
    resources = {split_resource_scope(s)[0] for s in resource_scopes}
    if len(resources) > 1:
        raise ScopeError(
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one resource. "
            f"Scope {' '.join(requested)} is not valid.",
        )
    if not resources:  # only openid/profile/offline_access: Entra issues a Graph token
        return ResourceScopes(GRAPH_RESOURCE, ["User.Read"], requested, False)
    resource = resources.pop()
    permissions = [split_resource_scope(s)[1] for s in resource_scopes]
    is_default = ".default" in permissions
    if is_default:
        permissions = ["user_impersonation"]
    return ResourceScopes(resource, permissions, requested, is_default)


def client_info(user: User) -> str:
    """base64url JSON {uid, utid}: the home account, which msal keys its cache on."""
    raw = json.dumps({"uid": user.home_oid, "utid": user.home_tenant_id}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _pairwise_sub(object_id: str, client_id: str) -> str:
    return b64url(hashlib.sha256(f"{object_id}:{client_id}".encode()).digest())


def _uti() -> str:
    return b64url(secrets.token_bytes(16))


class TokenIssuer:
    def __init__(self, key: SigningKey, authority_host: str) -> None:
        self.key = key
        self.authority_host = authority_host.rstrip("/")

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self.key.private_key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": self.key.kid, "x5t": self.key.x5t},
        )

    def v2_issuer(self, tenant_id: str) -> str:
        return f"{self.authority_host}/{tenant_id}/v2.0"

    @staticmethod
    def v1_issuer(tenant_id: str) -> str:
        return f"https://sts.windows.net/{tenant_id}/"

    def user_access_token(
        self,
        user: User,
        tenant_id: str,
        client_id: str,
        scopes: ResourceScopes,
        lifetime_s: int,
        mfa: bool = False,
    ) -> str:
        now = int(time.time())
        oid = user.oids[tenant_id]
        claims = {
            "aud": scopes.resource,
            "iss": self.v1_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
            "acr": "1",
            "amr": ["pwd", "mfa"] if mfa else ["pwd"],
            "appid": client_id,
            "appidacr": "0",
            "idtyp": "user",
            "ipaddr": "127.0.0.1",
            "name": user.display_name,
            "oid": oid,
            "scp": " ".join(scopes.permissions),
            "sub": _pairwise_sub(oid, client_id),
            "tid": tenant_id,
            "unique_name": user.username,
            "uti": _uti(),
            "ver": "1.0",
        }
        if user.is_guest_in(tenant_id):
            claims["idp"] = self.v1_issuer(user.home_tenant_id)
        else:
            claims["upn"] = user.username
        return self._sign(claims)

    def app_access_token(
        self, sp: ServicePrincipal, resource: str, lifetime_s: int, with_certificate: bool
    ) -> str:
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": self.v1_issuer(sp.tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
            "appid": sp.client_id,
            "appidacr": "2" if with_certificate else "1",
            "idp": self.v1_issuer(sp.tenant_id),
            "idtyp": "app",
            "oid": sp.object_id,
            "roles": list(sp.roles),
            "sub": sp.object_id,
            "tid": sp.tenant_id,
            "uti": _uti(),
            "ver": "1.0",
        }
        return self._sign(claims)

    def id_token(self, user: User, tenant_id: str, client_id: str, lifetime_s: int) -> str:
        now = int(time.time())
        oid = user.oids[tenant_id]
        return self._sign(
            {
                "aud": client_id,
                "iss": self.v2_issuer(tenant_id),
                "iat": now,
                "nbf": now,
                "exp": now + lifetime_s,
                "name": user.display_name,
                "oid": oid,
                "preferred_username": user.username,
                "sub": _pairwise_sub(oid, client_id),
                "tid": tenant_id,
                "uti": _uti(),
                "ver": "2.0",
            }
        )

    def verify_access_token(self, token: str, audiences: tuple[str, ...]) -> dict[str, Any]:
        """Claims of a token this emulator signed for one of ``audiences``; raises jwt errors."""
        claims = jwt.decode(
            token,
            self.key.public_key,
            algorithms=["RS256"],
            audience=list(audiences),
            options={"require": ["exp", "iat", "nbf", "iss", "tid"]},
        )
        if not claims["iss"].startswith("https://sts.windows.net/"):
            raise jwt.InvalidIssuerError("Not a v1.0 access token")
        return claims
