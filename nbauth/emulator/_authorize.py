"""The authorization endpoint, like Entra's: a person picks an account, the app gets a code.

``GET /{tenant}/oauth2/v2.0/authorize`` validates the request (``_authorize_request``), then
shows a page to pick a seeded user (Approve / Decline). The answer goes back to the app's
``redirect_uri`` the way ``response_mode`` asks: ``query`` / ``fragment`` (a 302) or
``form_post`` (a page that posts a form to it, which is what msal's local listener requires).
A query answer (``?code=...&state=...&session_state=...``, or ``?error=...&error_description=...
&error_uri=...&state=...``) is an address a person can copy from the browser and paste back.
The code it carries is redeemed at the token endpoint (``_authorization_codes``).

Ways to finish without a person, for tests and demos:

- the ``auto_approve`` setting (``nbauth-emulator --auto-approve USER``): the GET answers at once
  as that user, if they may sign in to the tenant;
- ``prompt=none`` with ``login_hint=USER`` (a seeded user): answered at once, as if the user
  had a session; ``prompt=none`` without one is ``login_required`` (AADSTS50058), as in Entra;
- a plain HTTP client can also post the picker form: fields ``request``, ``username`` and
  ``action=approve`` (or ``decline``).
"""

from __future__ import annotations

import html
import secrets
import threading
import uuid
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ._authorization_codes import AuthorizationCodes
from ._authorize_request import AuthorizationRequest, PageError, Redirected, validate_request
from ._context import EmulatorContext, read_form
from ._errors import described
from ._grants import TokenGrants
from ._pages import page
from ._seed import User

__all__ = ["AuthorizeFlow"]

# An unanswered picker is forgotten after this long (a person walked away).
PENDING_LIFETIME_S = 900
e = html.escape


class AuthorizeFlow:
    """The authorize routes: requests waiting for the person, answered with a code."""

    def __init__(self, ctx: EmulatorContext, grants: TokenGrants, codes: AuthorizationCodes):
        self.ctx = ctx
        self.grants = grants
        self.codes = codes
        self._lock = threading.Lock()
        self._pending: dict[str, AuthorizationRequest] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/oauth2/v2.0/authorize", self._get, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/authorize", self._post, methods=["POST"]),
        ]

    async def _get(self, request: Request) -> Response:
        try:
            auth = validate_request(
                self.grants, request.path_params["tenant"], request.query_params
            )
        except PageError as err:
            return _error_page(err)
        except Redirected as redirected:
            return self._redirect_error(
                redirected.auth, redirected.error, redirected.code, redirected.message
            )
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
                return self._redirect_error(
                    auth,
                    "login_required",
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                )
            return self._answer(auth, user)
        request_id = secrets.token_urlsafe(24)
        now = self.ctx.state.now()
        self.codes.forget_expired(now)
        with self._lock:
            self._forget_stale(now)
            self._pending[request_id] = auth
        return _picker_page(self.ctx, auth, request_id)

    async def _post(self, request: Request) -> Response:
        form = await read_form(request)
        with self._lock:
            auth = self._pending.pop(str(form.get("request", "")), None)
        if auth is None or self.ctx.state.now() - auth.created > PENDING_LIFETIME_S:
            return _error_page(
                PageError(
                    90014,
                    "This sign-in request is unknown or has expired. Go back to the app and "
                    "start signing in again.",
                ),
                status=400,
            )
        if form.get("action") == "decline":
            return self._redirect_error(
                auth, "access_denied", 65004, "User declined to consent to access the app."
            )
        user = self.ctx.directory.user(str(form.get("username", "")))
        if user is None or not self._eligible(user, auth):
            return self._redirect_error(
                auth,
                "access_denied",
                50020,
                "The selected account may not sign in to this tenant.",
            )
        return self._answer(auth, user)

    def _eligible(self, user: User, auth: AuthorizationRequest) -> bool:
        return auth.tenant is None or auth.tenant.tenant_id in user.oids

    def _answer(self, auth: AuthorizationRequest, user: User) -> Response:
        # Entra adds the person's browser session id, which an app passes on unread.
        code = self.codes.issue(auth, user)
        return _respond(auth, {"code": code, "session_state": str(uuid.uuid4())})

    def _redirect_error(
        self, auth: AuthorizationRequest, error: str, code: int, message: str
    ) -> Response:
        """An error sent back to the app, with the fields Entra puts in the address
        (MicrosoftDocs/azure-docs#114009): description with trace lines, error_uri, state."""
        fields = described(code, message, str(uuid.uuid4()), self.ctx.authority_host)
        return _respond(
            auth,
            {
                "error": error,
                "error_description": fields["error_description"],
                "error_uri": fields["error_uri"],
            },
        )

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, v in self._pending.items() if now - v.created > PENDING_LIFETIME_S]:
            del self._pending[key]


def _respond(auth: AuthorizationRequest, fields: dict[str, str]) -> Response:
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


def _error_page(err: PageError, status: int = 400) -> HTMLResponse:
    return page(
        "Sign in",
        f"<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p class="error" role="alert">AADSTS{err.code}: {e(err.message)}</p>',
        status,
    )


def _picker_page(ctx: EmulatorContext, auth: AuthorizationRequest, request_id: str) -> HTMLResponse:
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
    return page(
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
