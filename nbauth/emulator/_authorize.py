"""The authorization endpoint and the ``authorization_code`` grant (with PKCE), like Entra's.

``GET /{tenant}/oauth2/v2.0/authorize`` validates the request, then shows a page to pick a
seeded user (Approve / Decline). The answer goes back to the app's ``redirect_uri`` the way
``response_mode`` asks: ``query`` / ``fragment`` (a 302) or ``form_post`` (a page that posts a
form to it, which is what msal's local listener requires).

Ways to finish without a person, for tests and demos:

- the ``auto_approve`` setting (``nbauth-emulator --auto-approve USER``): the GET answers at once
  as that user, if they may sign in to the tenant;
- ``prompt=none`` with ``login_hint=USER`` (a seeded user): answered at once, as if the user
  had a session; ``prompt=none`` without one is ``login_required`` (AADSTS50058), as in Entra;
- a plain HTTP client can also post the picker form: fields ``request``, ``username`` and
  ``action=approve`` (or ``decline``).

Redirect URIs must be loopback ``http://localhost[:port]`` or ``http://127.0.0.1[:port]``
(any port, as Entra allows for public clients); anything else is AADSTS50011 on the page, never
a redirect. Codes live 10 minutes, are single use and bound to the client, the redirect URI and
the PKCE challenge (``S256`` or ``plain``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import string
import threading
import time
from dataclasses import dataclass, replace
from importlib import resources
from urllib.parse import urlencode, urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ._context import EmulatorContext
from ._grants import EntraFailure, TokenGrants, missing_parameter
from ._seed import Tenant, User
from ._tokens import ScopeError, parse_scopes

__all__ = ["AuthorizeFlow", "GRANT_AUTHORIZATION_CODE"]

GRANT_AUTHORIZATION_CODE = "authorization_code"
CODE_LIFETIME_S = 600
# An unanswered picker is forgotten after this long (a person walked away).
PENDING_LIFETIME_S = 900
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
_RESPONSE_MODES = ("query", "fragment", "form_post")

_TEMPLATE = string.Template(
    resources.files(__package__).joinpath("device_login.html").read_text(encoding="utf-8")
)
e = html.escape


@dataclass
class _Request:
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


class _PageError(Exception):
    """An error shown on the sign-in page itself: the redirect URI cannot be trusted."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class AuthorizeFlow:
    """The authorize routes and the authorization-code grant, sharing one code store."""

    def __init__(self, ctx: EmulatorContext, grants: TokenGrants) -> None:
        self.ctx = ctx
        self.grants = grants
        self._lock = threading.Lock()
        self._pending: dict[str, _Request] = {}
        self._codes: dict[str, _Code] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/oauth2/v2.0/authorize", self._get, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/authorize", self._post, methods=["POST"]),
        ]

    # -- the authorization request ---------------------------------------------------------

    async def _get(self, request: Request) -> Response:
        try:
            auth = self._validate(request.path_params["tenant"], request.query_params)
        except _PageError as err:
            return _error_page(err)
        except _Redirected as redirected:
            return redirected.response
        params = request.query_params
        auto = self.ctx.state.get_settings().get("auto_approve")
        if auto:
            user = self.ctx.directory.user(auto)
            if user is not None and self._eligible(user, auth):
                return self._answer(auth, user)
        hint = params.get("login_hint")
        if params.get("prompt") == "none":
            user = self.ctx.directory.user(hint) if hint else None
            if user is None or not self._eligible(user, auth):
                return _redirect_error(
                    auth,
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                )
            return self._answer(auth, user)
        request_id = secrets.token_urlsafe(24)
        with self._lock:
            self._forget_stale(time.time())
            self._pending[request_id] = auth
        return _picker_page(self.ctx, auth, request_id)

    async def _post(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            auth = self._pending.pop(str(form.get("request", "")), None)
        if auth is None or time.time() - auth.created > PENDING_LIFETIME_S:
            return _error_page(
                _PageError(
                    90014,
                    "This sign-in request is unknown or has expired. Go back to the app and "
                    "start signing in again.",
                ),
                status=400,
            )
        if form.get("action") == "decline":
            return _redirect_error(
                auth, "access_denied", 65004, "User declined to consent to access the app."
            )
        user = self.ctx.directory.user(str(form.get("username", "")))
        if user is None or not self._eligible(user, auth):
            return _redirect_error(
                auth,
                "access_denied",
                50020,
                "The selected account may not sign in to this tenant.",
            )
        return self._answer(auth, user)

    def _validate(self, segment: str, params) -> _Request:
        client_id = (params.get("client_id") or "").lower()
        if not client_id:
            raise _PageError(
                900144, "The request body must contain the following parameter: 'client_id'."
            )
        directory = self.ctx.directory
        if client_id not in directory.public_clients:
            raise _PageError(
                700016,
                f"Application with identifier '{client_id}' was not found in the directory. "
                "This can happen if the application has not been installed by the administrator "
                "of the tenant.",
            )
        redirect_uri = params.get("redirect_uri") or ""
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS or parts.query:
            raise _PageError(
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{client_id}'. Make sure the "
                "redirect URI sent in the request matches one added to your application in the "
                "Azure portal.",
            )
        response_mode = params.get("response_mode") or "query"
        state = params.get("state")
        # Enough of the request to send an error back to the (now trusted) redirect URI.
        partial = _Request(
            tenant_segment=segment,
            tenant=None,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=[],
            state=state,
            nonce=None,
            challenge=None,
            challenge_method="plain",
            response_mode=response_mode if response_mode in _RESPONSE_MODES else "query",
            login_hint=None,
            created=time.time(),
        )
        if response_mode not in _RESPONSE_MODES:
            raise _Redirected(
                partial, "invalid_request", 900144, f"Invalid response_mode '{response_mode}'."
            )
        try:
            tenant = self.grants.resolve_tenant(segment)
        except EntraFailure as fail:
            raise _Redirected(partial, fail.error, fail.code, fail.message) from None
        if params.get("response_type") != "code":
            raise _Redirected(
                partial,
                "unsupported_response_type",
                700054,
                f"response_type '{params.get('response_type')}' is not enabled for the application.",
            )
        scope = params.get("scope") or ""
        try:
            scopes = parse_scopes(scope).requested
        except ScopeError as exc:
            raise _Redirected(partial, "invalid_scope", exc.code, str(exc)) from None
        if not scopes:
            raise _Redirected(
                partial,
                "invalid_request",
                70011,
                "The provided request must include a 'scope' input parameter.",
            )
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") or "plain"
        if challenge and method not in ("S256", "plain"):
            raise _Redirected(
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

    def _eligible(self, user: User, auth: _Request) -> bool:
        return auth.tenant is None or auth.tenant.tenant_id in user.oids

    def _answer(self, auth: _Request, user: User) -> Response:
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
                expires_at=time.time() + CODE_LIFETIME_S,
            )
        state = self.ctx.state
        with state.lock:
            # Counted with the other secrets, so tests can check none of them leaks.
            state.issued.setdefault("authorization_codes", []).append(code)
        return _respond(auth, {"code": code})

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, v in self._pending.items() if now - v.created > PENDING_LIFETIME_S]:
            del self._pending[key]
        for key in [k for k, v in self._codes.items() if now >= v.expires_at]:
            del self._codes[key]

    # -- the token endpoint's grant --------------------------------------------------------

    def code_grant(self, form, segment: str, tenant: Tenant | None) -> dict:
        client_id = str(form["client_id"]).lower()
        self.grants.require_public_client(client_id, segment, tenant)
        value = form.get("code")
        if not value:
            raise missing_parameter("code")
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
            if time.time() >= code.expires_at:
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


class _Redirected(Exception):
    """An error to send back to the (already validated) redirect URI."""

    def __init__(self, auth: _Request, error: str, code: int, message: str) -> None:
        super().__init__(message)
        self.response = _redirect_error(auth, error, code, message)


def _pkce_matches(verifier: str | None, challenge: str, method: str) -> bool:
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return secrets.compare_digest(expected, challenge)


def _respond(auth: _Request, fields: dict[str, str]) -> Response:
    if auth.state is not None:
        fields = {**fields, "state": auth.state}
    if auth.response_mode == "form_post":
        inputs = "".join(
            f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in fields.items()
        )
        return HTMLResponse(
            "<!doctype html><html><head><title>Working...</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{e(auth.redirect_uri)}">{inputs}'
            "<noscript><p>Script is disabled. Click Submit to continue.</p>"
            '<input type="submit" value="Submit"></noscript></form></body></html>',
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )
    separator = "#" if auth.response_mode == "fragment" else "?"
    return RedirectResponse(auth.redirect_uri + separator + urlencode(fields), status_code=302)


def _redirect_error(auth: _Request, error: str, code: int, message: str) -> Response:
    return _respond(auth, {"error": error, "error_description": f"AADSTS{code}: {message}"})


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_TEMPLATE.substitute(title=e(title), body=body), status_code=status)


def _error_page(err: _PageError, status: int = 400) -> HTMLResponse:
    return _page(
        "Sign in",
        f"<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p class="error" role="alert">AADSTS{err.code}: {e(err.message)}</p>',
        status,
    )


def _picker_page(ctx: EmulatorContext, auth: _Request, request_id: str) -> HTMLResponse:
    directory = ctx.directory
    users = [u for u in directory.users if auth.tenant is None or auth.tenant.tenant_id in u.oids]
    hint = (auth.login_hint or "").lower()
    chosen = next((i for i, u in enumerate(users) if u.username.lower() == hint), 0)
    accounts = "".join(
        f'<label class="account"><input type="radio" name="username" value="{e(u.username)}"'
        f"{' checked' if i == chosen else ''}> {e(u.display_name)}"
        f"<small>{e(u.username)}</small></label>"
        for i, u in enumerate(users)
    )
    app = directory.app_name(auth.client_id)
    where = auth.tenant.display_name if auth.tenant else "your organization"
    return _page(
        "Pick an account",
        f"""
  <h1>Pick an account</h1>
  <p>to continue to <b>{e(app)}</b> in <b>{e(where)}</b>.</p>
  <form method="post" action="/{e(auth.tenant_segment)}/oauth2/v2.0/authorize">
    <input type="hidden" name="request" value="{e(request_id)}">
    {accounts or '<p class="error">No account may sign in to this tenant.</p>'}
    <div class="actions">
      <button class="secondary" type="submit" name="action" value="decline">Decline</button>
      <button class="primary" type="submit" name="action" value="approve">Approve</button>
    </div>
  </form>""",
    )
