"""The device-code sign-in page for people: enter the code, pick an account, approve or decline.

Plain server-rendered HTML over http on loopback, every value escaped.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from . import _approval
from ._conditional_access import refusal_page
from ._context import EmulatorContext, read_form
from ._pages import page
from ._state import AdminError, DeviceCode

e = html.escape


def _code_form(error: str = "", code: str = "") -> str:
    message = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return f"""
  <h1>Enter code</h1>
  <p>Enter the code displayed on your app or device.</p>
  {message}
  <form method="post" action="/devicelogin">
    <input type="text" name="otc" aria-label="Code" placeholder="Code" autocomplete="off"
           autofocus value="{e(code)}">
    <div class="actions"><button class="primary" type="submit">Next</button></div>
  </form>"""


def device_page_routes(ctx: EmulatorContext) -> list[Route]:
    directory = ctx.directory

    def lookup(user_code: str) -> tuple[DeviceCode | None, str]:
        try:
            return ctx.state.find_user_code(user_code), ""
        except AdminError as exc:
            if exc.status == 410:
                return (
                    None,
                    "That code has expired. Go back to your app, start signing in again and enter the new code.",
                )
            if exc.status == 409:
                return (
                    None,
                    "That code has already been used. Go back to your app to see the result.",
                )
            return None, "That code was not found. Check the code shown by your app and try again."

    async def enter_code(request: Request) -> Response:
        return page("Enter code", _code_form(code=request.query_params.get("otc", "")))

    async def submit_code(request: Request) -> Response:
        form = await read_form(request)
        user_code = str(form.get("otc", "")).strip()
        if not user_code:
            return page("Enter code", _code_form("Enter the code shown by your app."), 400)
        code, error = lookup(user_code)
        if code is None:
            return page("Enter code", _code_form(error, user_code), 400)
        tenant = directory.tenant(code.tenant_id) if code.tenant_id else None
        where = tenant.display_name if tenant else "your organization"
        users = _approval.eligible_users(ctx, code)
        accounts = "".join(
            f"""<label class="account"><input type="radio" name="username" value="{e(u.username)}"
                {"checked" if i == 0 else ""}> {e(u.display_name)}<small>{e(u.username)}</small></label>"""
            for i, u in enumerate(users)
        )
        app = directory.app_name(code.client_id)
        return page(
            "Pick an account",
            f"""
  <h1>Pick an account</h1>
  <p>You are signing in to <b>{e(app)}</b> on another device located in <b>{e(where)}</b>.
     If it is not you who started it, choose Decline.</p>
  <form method="post" action="/devicelogin/confirm">
    <input type="hidden" name="otc" value="{e(code.user_code)}">
    {accounts or '<p class="error">No account may sign in to this tenant.</p>'}
    <div class="actions">
      <button class="secondary" type="submit" name="action" value="decline">Decline</button>
      <button class="primary" type="submit" name="action" value="approve">Approve</button>
    </div>
  </form>""",
        )

    async def confirm(request: Request) -> Response:
        form = await read_form(request)
        user_code = str(form.get("otc", ""))
        action = form.get("action")
        code, error = lookup(user_code)
        if code is None:
            return page("Enter code", _code_form(error, user_code), 400)
        app = directory.app_name(code.client_id)
        try:
            if action == "decline":
                _approval.decline(ctx, user_code)
                return page(
                    "Declined",
                    f"<h1>Sign-in declined</h1><p>You declined to sign in to <b>{e(app)}</b> on your device. You may now close this window.</p>",
                )
            if action != "approve":
                return RedirectResponse("/devicelogin", status_code=303)
            approved = _approval.approve(ctx, str(form.get("username", "")), user_code)
        except AdminError as exc:
            return page("Enter code", _code_form(str(exc), user_code), 400)
        if approved.status == "blocked":
            return refusal_page(app, approved.client_id)
        user = directory.user(approved.username or "")
        return page(
            "Signed in",
            f"""<h1>You're signed in</h1>
  <p>{e(user.username if user else "")}</p>
  <p>You have signed in to the <b>{e(app)}</b> application on your device. You may now close this window.</p>""",
        )

    return [
        Route("/devicelogin", enter_code, methods=["GET"]),
        Route("/devicelogin", submit_code, methods=["POST"]),
        Route("/devicelogin/confirm", confirm, methods=["POST"]),
    ]
