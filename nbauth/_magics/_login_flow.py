"""How ``%azlogin`` signs in once its line is accepted: the card or the badge, and ``auto``
with a named or remembered person."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._hidden import HiddenValues
from .._ui import display as ui_display
from ._login_request import LoginRequest

if TYPE_CHECKING:
    from .._signin import SignIn

__all__ = ["login"]


def _sign_in(request: LoginRequest, **options: Any) -> SignIn:
    """Any method, through the display: the card for a code, the badge when it is done."""
    options = HiddenValues(options)  # may hold the password: see nbauth._hidden
    hint = request.account if request.method == "device_code" else None
    signin = ui_display.sign_in(
        request.session,
        wait=request.wait,
        ui=request.ui,
        account_hint=hint,
        **request.login_kwargs(),
        **request.options,
        **options,
    )
    account = signin.account
    if (
        request.account
        and account is not None
        and account.username.lower() != request.account.lower()
    ):
        print(f"Note: you signed in as {account.username}, not {request.account}.")
    return signin


def _resume(request: LoginRequest) -> bool:
    """Make ``request.account`` current again without asking anything, if this kernel (or a
    saved cache) holds a sign-in for it that still gets a token; show the badge."""
    from .._errors import AuthenticationError  # here, not at %load_ext: it loads azure-core

    session = request.session
    pending = session.pending
    if pending is not None:
        # The newest %azlogin wins, silent or not: a forgotten --no-wait sign-in must not
        # keep every credential call waiting for it. (A sign-in cancels it itself.)
        pending.cancel()
    try:
        account = session.sign_in_silently(
            username=request.account,
            authority_host=request.authority_host,
            tenant=request.tenant,
            client_id=request.client_id,
            scopes=request.scopes,
        )
    except AuthenticationError:
        # e.g. the account is not a member of this tenant: a new sign-in may pick another one.
        account = None
    if account is None:
        return False
    ui_display.show_badge(session, account, scopes=request.scopes, ui=request.ui)
    return True


def _with_remembered_account(request: LoginRequest) -> LoginRequest:
    """After a kernel restart with persistence on (``reauth``, or ``read_write`` whose saved
    sign-in no longer works), ask for the account signed in last, in its tenant and client."""
    if request.account is not None or request.session.account is not None:
        return request
    record = request.session.remembered_account(
        authority_host=request.authority_host, client_id=request.client_id
    )
    if record is None:
        return request
    return dataclasses.replace(
        request,
        account=record.username,
        tenant=request.tenant or record.tenant,
        client_id=request.client_id or record.client_id,
    )


def _login_auto(request: LoginRequest) -> None:
    """``auto``: the chain, with the card as its last step's prompt.

    A named person (``--account``, or the sign-in a saved cache remembers after a restart) is
    not something the chain can look for: that account silently if it still works, else a
    device code for it.
    """
    person = _with_remembered_account(request)
    if person.account is not None:
        if _resume(person):
            return
        # Lazy load: the methods load azure-core, and %load_ext imports this module.
        from .._methods._paste_back import prefers_browser

        if prefers_browser(person.session):  # the admin's setting (remote kernels)
            options = MappingProxyType({**person.options, "login_hint": person.account})
            _sign_in(dataclasses.replace(person, method="browser", options=options))
        else:
            _sign_in(dataclasses.replace(person, method="device_code"))
        return
    _sign_in(request)


def login(request: LoginRequest, **secrets: Any) -> None:
    """Sign in as `request` says; `secrets` (a password just asked for) go to the method only."""
    secrets = HiddenValues(secrets)  # Verbose tracebacks print arguments: nbauth._hidden
    if request.method == "auto":
        _login_auto(request)
    else:
        _sign_in(request, **secrets)
