"""Interactive browser sign-in: authorization code + PKCE (see `._paste_back`).

On a local kernel nbauth opens the browser and listens on ``http://localhost:<port>`` itself, so
the answer comes back by itself and the stop button or ``cancel()`` ends a sign-in at once
(msal's ``acquire_token_interactive`` blocks in its own listener until a timeout). The card also
takes the address pasted back, for port-forwarded setups where the answer never arrives.

On a remote kernel (JupyterHub, Binder, Codespaces, SSH, WSL, Azure ML; see `_kernel_location`;
``NBAUTH_KERNEL_LOCATION=remote`` forces it) the person opens the sign-in page in their own
browser, where their SSO, compliant device and MFA live, and pastes back the address it ends
on: ``signin.complete(address)``, or the card's field. This is the way in for tenants whose
Conditional Access blocks device code.

Options (``nbauth.login("browser", ...)``): ``login_hint`` (a username to preselect),
``open_browser`` (a callable ``url -> bool``, default `webbrowser.open`, which honours
``$BROWSER``; local kernels only), ``fallback`` (default True: a local kernel that cannot open
a browser signs in with a device code; False raises `MethodUnavailable` instead).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _kernel_location
from .._errors import ConfigurationError
from .._signin import SignIn
from . import _paste_back, device_code
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "LIFETIME_S", "METHOD", "start"]

_LOGGER = logging.getLogger("nbauth")

METHOD = "browser"
LIFETIME_S = _paste_back.LIFETIME_S


def start(session: Session, request: SignInRequest) -> SignIn:
    """Open the sign-in page and listen for its answer (local kernel), or show it to open and
    take the pasted answer (remote kernel)."""
    options = request.options
    login_hint = options.get("login_hint")
    if login_hint is not None and not isinstance(login_hint, str):
        raise ConfigurationError("login_hint must be a username such as alice@contoso.com.")
    opener: Callable[[str], Any] = options.get("open_browser") or _default_opener
    if not callable(opener):
        raise ConfigurationError("open_browser must be a callable that takes the URL to open.")
    fallback = bool(options.get("fallback", True))

    local = _kernel_location.detect().local
    paste = _paste_back.begin(session, request, listen=local, login_hint=login_hint)
    if local:
        request.notice("Opening the sign-in page in a browser on this machine...")
        try:
            opened = bool(opener(paste.prompt.verification_uri))
        except Exception as exc:  # noqa: BLE001 - any failure to open means "no browser"
            _LOGGER.debug("opening a browser failed: %s", type(exc).__name__)
            opened = False
        if not opened:
            paste.signin.cancel()  # closes the listener; it was never shown
            return _fall_back(session, request, fallback)
    signin = paste.show()
    signin.start_worker(paste.wait_for_answer, name="nbauth-browser-sign-in")
    return signin


def _default_opener(url: str) -> bool:
    import webbrowser  # Lazy load

    return webbrowser.open(url)


def _fall_back(session: Session, request: SignInRequest, fallback: bool) -> SignIn:
    reason = "no web browser could be opened on this machine"
    fix = "Set $BROWSER to a browser command, or use --method device_code."
    if not fallback:
        raise MethodUnavailable(METHOD, reason, fix)
    request.notice(
        f"The browser sign-in cannot be used: {reason}. Signing in with a device code instead."
    )
    return device_code.start(
        session, replace(request, method=device_code.METHOD, options=MappingProxyType({}))
    )


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
