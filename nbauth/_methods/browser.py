"""Interactive browser sign-in: authorization code + PKCE, answered to a loopback listener.

msal builds the request (PKCE verifier and challenge, state, nonce) and redeems the answer
(``initiate_auth_code_flow`` / ``acquire_token_by_auth_code_flow``); nbauth opens the browser and
listens on ``http://localhost:<port>`` itself, so the stop button or ``cancel()`` ends a sign-in
at once. (msal's ``acquire_token_interactive`` blocks in its own listener until a timeout.)

It only works when the browser runs on the kernel's machine: the page redirects to localhost.
On a remote kernel (JupyterHub, Binder, Codespaces, SSH, WSL, Azure ML; see `_kernel_location`)
or when no browser can be opened, it says so in one line and signs in with a device code.

Options (``nbauth.login("browser", ...)``): ``login_hint`` (a username to preselect),
``open_browser`` (a callable ``url -> bool``, default `webbrowser.open`, which honours
``$BROWSER``), ``fallback`` (default True; False raises `MethodUnavailable` instead of falling
back to device code).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _kernel_location, _signin
from .._errors import (
    AuthenticationError,
    ConfigurationError,
    EntraError,
    SignInDeclined,
    SignInExpired,
    from_msal_result,
    redact,
)
from .._http import network_error
from .._signin import SignIn
from . import device_code
from ._method import AutoPlace, Method
from ._msal_account import discard, succeed
from ._redirect_listener import RedirectListener
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    import msal

    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "METHOD", "start"]

_LOGGER = logging.getLogger("nbauth")

METHOD = "browser"
# How long the listener waits for the person; Entra's own sign-in page session is ~10 minutes.
LIFETIME_S = 600.0
_STAY_LOCAL_HINT = (
    "If this machine's browser can reach the kernel (e.g. VS Code forwards its ports), set "
    "NBAUTH_KERNEL_LOCATION=local."
)


def start(session: Session, request: SignInRequest) -> SignIn:
    """Open the sign-in page and listen for its answer; or fall back to device code."""
    options = request.options
    login_hint = options.get("login_hint")
    if login_hint is not None and not isinstance(login_hint, str):
        raise ConfigurationError("login_hint must be a username such as alice@contoso.com.")
    opener: Callable[[str], Any] = options.get("open_browser") or _default_opener
    if not callable(opener):
        raise ConfigurationError("open_browser must be a callable that takes the URL to open.")
    fallback = bool(options.get("fallback", True))

    where = _kernel_location.detect()
    if not where.local:
        return _fall_back(
            session,
            request,
            fallback,
            f"this kernel runs on {where.reason}, where a browser cannot reach it",
            _STAY_LOCAL_HINT,
        )

    import requests  # Lazy load

    app = session.public_client(f"{request.authority_host}/{request.tenant}", request.client_id)
    state = RedirectListener.new_state()
    listener = RedirectListener(state)
    try:
        flow = app.initiate_auth_code_flow(
            list(request.scopes),
            redirect_uri=listener.redirect_uri,
            state=state,
            prompt="select_account",  # what azure-identity asks for: let the person pick
            login_hint=login_hint,
            claims_challenge=request.claims,
            response_mode="form_post",  # keeps the code out of the browser history
        )
        auth_uri = str(flow["auth_uri"])
        request.notice("Opening the sign-in page in a browser on this machine...")
        try:
            opened = bool(opener(auth_uri))
        except Exception as exc:  # noqa: BLE001 - any failure to open means "no browser"
            _LOGGER.debug("opening a browser failed: %s", type(exc).__name__)
            opened = False
    except requests.RequestException as exc:
        listener.close()
        raise AuthenticationError(
            network_error(request.authority_host, exc, "while starting the sign-in")
        ) from None
    except BaseException:
        listener.close()
        raise
    if not opened:
        listener.close()
        return _fall_back(
            session,
            request,
            fallback,
            "no web browser could be opened on this machine",
            "Set $BROWSER to a browser command, or use --method device_code.",
        )

    signin = SignIn(method=METHOD, on_cancel=listener.close)
    session.track_pending(signin)
    request.notice(f"Finish signing in in the browser. If its window is gone, open: {auth_uri}")
    signin.start_worker(
        lambda s: _complete(s, session, app, flow, listener, request),
        name="nbauth-browser-sign-in",
    )
    return signin


def _default_opener(url: str) -> bool:
    import webbrowser  # Lazy load

    return webbrowser.open(url)


def _fall_back(
    session: Session, request: SignInRequest, fallback: bool, reason: str, fix: str
) -> SignIn:
    if not fallback:
        raise MethodUnavailable(METHOD, reason, f"{fix} Or use --method device_code.")
    request.notice(
        f"The browser sign-in cannot be used: {reason}. Signing in with a device code instead."
    )
    return device_code.start(
        session, replace(request, method=device_code.METHOD, options=MappingProxyType({}))
    )


def _complete(
    signin: SignIn,
    session: Session,
    app: msal.PublicClientApplication,
    flow: dict[str, Any],
    listener: RedirectListener,
    request: SignInRequest,
) -> None:
    import requests  # Lazy load

    response = listener.wait(LIFETIME_S)
    listener.close()
    if signin.cancel_requested.is_set():
        return
    if response is None:
        signin.fail(
            _signin.EXPIRED,
            SignInExpired(
                f"The browser sign-in was not finished within {LIFETIME_S / 60:g} minutes and "
                f"was stopped. Run `%azlogin --method browser` again."
            ),
        )
        return
    try:
        result = app.acquire_token_by_auth_code_flow(flow, response)
    except requests.RequestException as exc:
        signin.fail(
            _signin.FAILED,
            AuthenticationError(
                network_error(request.authority_host, exc, "while finishing the sign-in")
            ),
        )
        return
    except ValueError as exc:
        # msal's checks of the answer (state, nonce) failed.
        signin.fail(
            _signin.FAILED,
            AuthenticationError(
                f"The sign-in answer did not belong to this sign-in ({redact(exc)[:200]}). "
                f"Run `%azlogin --method browser` again."
            ),
        )
        return
    if signin.cancel_requested.is_set():
        if "access_token" in result:
            discard(session, app, result)
        return
    if "access_token" in result:
        succeed(signin, session, app, result, request, METHOD)
        return
    error = from_msal_result(result)
    if isinstance(error, EntraError) and error.error == "access_denied":
        declined = SignInDeclined(
            "The sign-in was declined in the browser. If that was a mistake, run `%azlogin` "
            "again and approve it."
        )
        declined.__cause__ = error
        signin.fail(_signin.DECLINED, declined)
        return
    signin.fail(_signin.FAILED, error)


DECLARATION = Method(
    METHOD,
    start,
    aliases=("interactive_browser", "interactive-browser"),
    person=True,
    account="login_hint",
    options=("login_hint", "open_browser", "fallback"),
    auto=AutoPlace(
        "interactive browser", "interactivebrowsercredential", "dev", True, order=None
    ),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
