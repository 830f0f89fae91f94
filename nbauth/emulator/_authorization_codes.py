"""Authorization codes: issued by the authorize endpoint, redeemed by the token endpoint's
``authorization_code`` grant (with PKCE), like Entra's.

Codes live 10 minutes, are single use and bound to the client, the redirect URI and the PKCE
challenge (``S256`` or ``plain``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from ._authorize_request import AuthorizationRequest
from ._context import EmulatorContext, Form
from ._errors import EntraFailure, missing_parameter
from ._grants import TokenGrants
from ._seed import Tenant, User

GRANT_AUTHORIZATION_CODE = "authorization_code"
CODE_LIFETIME_S = 600


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    username: str
    tenant_id: str
    nonce: str | None
    challenge: str | None
    challenge_method: str
    expires_at: float
    redeemed: bool = False


class AuthorizationCodes:
    """The code store that the authorize endpoint fills and the token endpoint empties."""

    def __init__(self, ctx: EmulatorContext, grants: TokenGrants) -> None:
        self.ctx = ctx
        self.grants = grants
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}

    def issue(self, auth: AuthorizationRequest, user: User) -> str:
        tenant_id = auth.tenant.tenant_id if auth.tenant else user.home_tenant_id
        code = "0.AQoA" + secrets.token_urlsafe(96)
        with self._lock:
            self._codes[code] = _Code(
                client_id=auth.client_id,
                redirect_uri=auth.redirect_uri,
                scopes=auth.scopes,
                username=user.username,
                tenant_id=tenant_id,
                nonce=auth.nonce,
                challenge=auth.challenge,
                challenge_method=auth.challenge_method,
                expires_at=self.ctx.state.now() + CODE_LIFETIME_S,
            )
        # Counted with the other secrets, so tests can check none of them leaks.
        self.ctx.state.record_issued("authorization_codes", code)
        return code

    def forget_expired(self, now: float) -> None:
        with self._lock:
            for key in [k for k, v in self._codes.items() if now >= v.expires_at]:
                del self._codes[key]

    def authorization_code_grant(
        self, form: Form, segment: str, tenant: Tenant | None
    ) -> dict[str, Any]:
        client_id = str(form["client_id"]).lower()
        self.grants.require_public_client(client_id, segment, tenant)
        value = form.get("code")
        if not value:
            raise missing_parameter("code")
        verifier = form.get("code_verifier")
        if verifier:
            self.ctx.state.record_issued("code_verifiers", verifier)
        with self._lock:
            code = self._codes.get(value)
            if code is None:
                raise EntraFailure(
                    9002313, "invalid_grant", "Invalid request. Request is malformed or invalid."
                )
            if code.redeemed:
                raise EntraFailure(
                    54005,
                    "invalid_grant",
                    "OAuth2 Authorization code was already redeemed, please retry with a new "
                    "valid code or use an existing refresh token.",
                )
            if self.ctx.state.now() >= code.expires_at:
                # Entra's answer to a code redeemed too late (quoted in snok/django-auth-adfs#245).
                raise EntraFailure(
                    70008,
                    "invalid_grant",
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user "
                    "and resource.",
                )
            if code.client_id != client_id:
                raise EntraFailure(
                    70000,
                    "invalid_grant",
                    "Provided grant is invalid or malformed. The code was issued to a "
                    "different client.",
                )
            if form.get("redirect_uri") != code.redirect_uri:
                raise EntraFailure(
                    500112,
                    "invalid_grant",
                    "The reply address does not match the reply address provided when "
                    "requesting Authorization code.",
                )
            if code.challenge and not _pkce_matches(
                form.get("code_verifier"), code.challenge, code.challenge_method
            ):
                raise EntraFailure(
                    501481,
                    "invalid_grant",
                    "The Code_Verifier does not match the code_challenge supplied in the "
                    "authorization request.",
                )
            # Single use from here on, whatever happens next.
            code.redeemed = True
        user = self.ctx.directory.user(code.username)
        assert user is not None
        scope = form.get("scope")
        scopes = self.grants.scopes_of({"scope": scope} if scope else {}, code.scopes)
        body = self.grants.user_tokens(
            form, user, code.tenant_id, client_id, scopes, mfa=user.mfa_required
        )
        if code.nonce and "id_token" in body:
            body["id_token"] = self._with_nonce(str(body["id_token"]), code.nonce)
        return body

    def _with_nonce(self, id_token: str, nonce: str) -> str:
        """The id token again, with the request's nonce, which msal checks."""
        key = self.ctx.key
        claims = jwt.decode(id_token, options={"verify_signature": False})
        claims["nonce"] = nonce
        signed = jwt.encode(
            claims,
            key.private_key,
            algorithm="RS256",
            headers={"typ": "JWT", "kid": key.kid, "x5t": key.x5t},
        )
        self.ctx.state.record_issued("id_tokens", signed)
        return signed


def _pkce_matches(verifier: str | None, challenge: str, method: str) -> bool:
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return secrets.compare_digest(expected, challenge)
