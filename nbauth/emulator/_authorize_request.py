"""Validating an authorization request (``GET /{tenant}/oauth2/v2.0/authorize``) like Entra.

Redirect URIs must be loopback ``http://localhost[:port]`` or ``http://127.0.0.1[:port]`` (any
port, as Entra allows for public clients). Until the redirect URI is trusted, an error is shown
on the page itself (``PageError``), never redirected; after, it goes back to the app
(``Redirected``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ._errors import EntraFailure
from ._grants import TokenGrants
from ._seed import Tenant
from ._tokens import ScopeError, parse_scopes

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
RESPONSE_MODES = ("query", "fragment", "form_post")


@dataclass
class AuthorizationRequest:
    """A validated authorization request, waiting for the person (or answered at once)."""

    tenant_segment: str
    tenant: Tenant | None
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    nonce: str | None
    challenge: str | None
    challenge_method: str
    response_mode: str
    login_hint: str | None
    created: float


class PageError(Exception):
    """An error shown on the sign-in page itself: the redirect URI cannot be trusted."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Redirected(Exception):
    """An error to send back to the (already validated) redirect URI."""

    def __init__(self, auth: AuthorizationRequest, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.auth, self.error, self.code, self.message = auth, error, code, message


def validate_request(
    grants: TokenGrants, segment: str, params: Mapping[str, str]
) -> AuthorizationRequest:
    client_id = (params.get("client_id") or "").lower()
    if not client_id:
        raise PageError(
            900144, "The request body must contain the following parameter: 'client_id'."
        )
    if client_id not in grants.directory.public_clients:
        raise PageError(
            700016,
            f"Application with identifier '{client_id}' was not found in the directory. "
            "This can happen if the application has not been installed by the administrator "
            "of the tenant.",
        )
    redirect_uri = params.get("redirect_uri") or ""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS or parts.query:
        raise PageError(
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the "
            f"redirect URIs configured for the application '{client_id}'. Make sure the "
            "redirect URI sent in the request matches one added to your application in the "
            "Azure portal.",
        )
    response_mode = params.get("response_mode") or "query"
    # Enough of the request to send an error back to the (now trusted) redirect URI.
    partial = AuthorizationRequest(
        tenant_segment=segment,
        tenant=None,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=[],
        state=params.get("state"),
        nonce=None,
        challenge=None,
        challenge_method="plain",
        response_mode=response_mode if response_mode in RESPONSE_MODES else "query",
        login_hint=None,
        created=grants.state.now(),
    )
    if response_mode not in RESPONSE_MODES:
        raise Redirected(
            partial, "invalid_request", 900144, f"Invalid response_mode '{response_mode}'."
        )
    try:
        tenant = grants.resolve_tenant(segment)
    except EntraFailure as fail:
        raise Redirected(partial, fail.error, fail.code, fail.message) from None
    if params.get("response_type") != "code":
        raise Redirected(
            partial,
            "unsupported_response_type",
            700054,
            f"response_type '{params.get('response_type')}' is not enabled for the application.",
        )
    scope = params.get("scope") or ""
    try:
        scopes = parse_scopes(scope).requested
    except ScopeError as exc:
        raise Redirected(partial, "invalid_scope", exc.code, str(exc)) from None
    if not scopes:
        raise Redirected(
            partial,
            "invalid_request",
            70011,
            "The provided request must include a 'scope' input parameter.",
        )
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method") or "plain"
    if challenge and method not in ("S256", "plain"):
        raise Redirected(
            partial,
            "invalid_request",
            501491,
            f"Invalid code_challenge_method '{method}'; use S256.",
        )
    return replace(
        partial,
        tenant=tenant,
        scopes=scopes,
        nonce=params.get("nonce"),
        challenge=challenge,
        challenge_method=method,
        login_hint=params.get("login_hint"),
    )
