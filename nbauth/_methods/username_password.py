"""Username / password sign-in (OAuth 2.0 resource owner password credentials), on msal.

It works for accounts without multi-factor authentication, and is kept for the automation that
still depends on it. Microsoft deprecated it for public clients: it cannot satisfy MFA, which
Entra ID now enforces for most accounts, so nbauth warns once per kernel. An MFA answer
(AADSTS50076) carries the advice to use device code (see `nbauth._aadsts`).

Options: ``username``, ``password`` (both required). The password is handed to msal and kept
nowhere else: not in the `SignIn`, the `Account`, an error or a log line.
"""

from __future__ import annotations

import warnings
import weakref
from typing import TYPE_CHECKING

from .. import _signin
from .._errors import (
    AuthenticationError,
    ConfigurationError,
    from_msal_result,
    redact,
    unexpected_msal_error,
)
from .._http import keep_authority_port, network_error
from .._signin import SignIn
from ._method import Flag, Method
from ._msal_account import succeed

if TYPE_CHECKING:
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "DEPRECATION_MESSAGE", "METHOD", "start"]

METHOD = "username_password"
DEPRECATION_MESSAGE = (
    "Username/password sign-in is deprecated by Microsoft and cannot satisfy multi-factor "
    "authentication, which Entra ID requires for most accounts. Prefer `%azlogin` (device "
    "code) or `--method browser`."
)
# Sessions already warned: once per kernel (one session), and each test's own session.
_warned: weakref.WeakSet[Session] = weakref.WeakSet()


def start(session: Session, request: SignInRequest) -> SignIn:
    """Sign in with the username and password in ``request.options``; returns a finished
    `SignIn` (one request, no polling)."""
    username = request.options.get("username")
    password = request.options.get("password")
    missing = [
        name
        for name, value in (("username", username), ("password", password))
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise ConfigurationError(
            f"The username_password method needs {' and '.join(missing)} as text, e.g. "
            f"nbauth.login('username_password', username='alice@contoso.com', "
            f"password=getpass.getpass())."
        )
    assert isinstance(username, str) and isinstance(password, str)
    _warn_once(session)

    import requests  # Lazy load

    app = session.public_client(f"{request.authority_host}/{request.tenant}", request.client_id)
    keep_authority_port(session.http_client(), request.authority_host)
    signin = SignIn(method=METHOD)
    session.track_pending(signin)
    try:
        with warnings.catch_warnings():
            # msal's own DeprecationWarning says the same as ours, less usefully, every time.
            warnings.simplefilter("ignore", DeprecationWarning)
            result = app.acquire_token_by_username_password(
                username, password, list(request.scopes), claims_challenge=request.claims
            )
    except requests.RequestException as exc:
        signin.fail(
            _signin.FAILED,
            AuthenticationError(network_error(request.authority_host, exc, "while signing in")),
        )
        return signin
    except ValueError as exc:
        signin.fail(
            _signin.FAILED,
            AuthenticationError(
                f"{request.authority_host} answered the sign-in with something nbauth could "
                f"not read ({redact(exc)[:200]}). Try again."
            ),
        )
        return signin
    except Exception as exc:  # noqa: BLE001 - an HTTP 5xx (msal's MsalServiceError), or worse
        signin.fail(_signin.FAILED, unexpected_msal_error(request.authority_host, exc))
        return signin
    if "access_token" in result:
        succeed(signin, session, app, result, request, METHOD)
    else:
        signin.fail(_signin.FAILED, from_msal_result(result))
    return signin


def _warn_once(session: Session) -> None:
    if session in _warned:
        return
    _warned.add(session)
    # FutureWarning: shown to notebook users by default (DeprecationWarning is not).
    warnings.warn(DEPRECATION_MESSAGE, FutureWarning, stacklevel=4)


DECLARATION = Method(
    METHOD,
    start,
    aliases=("username-password", "password", "ropc"),
    person=True,
    options=("username", "password"),
    flags=(
        Flag(
            "username",
            "--username",
            "username",
            path=False,
            required="USER (the password is asked for, never put on this line).",
        ),
    ),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
