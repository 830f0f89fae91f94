"""Device code sign-in (OAuth 2.0 device authorization grant), on msal.

The person opens a page on any device and types a short code; meanwhile a daemon thread polls
Entra ID. msal is asked for one poll at a time (``exit_condition`` always true) so the loop is
ours: it sleeps on the sign-in's cancel event, which makes ``cancel()`` take effect at once
instead of at msal's next one-second tick, and it honours ``slow_down`` through the ``interval``
msal keeps in the flow.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from .. import _kernel_location, _signin
from .._errors import (
    AuthenticationError,
    SignInDeclined,
    SignInExpired,
    from_msal_result,
    redact,
    unexpected_msal_error,
)
from .._prompt import DeviceCodePrompt
from .._signin import SignIn
from . import _msal_account, _paste_back
from ._method import AutoPlace, Method

if TYPE_CHECKING:
    import msal

    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "start"]

_LOGGER = logging.getLogger("nbauth")

METHOD = "device_code"
# Transient network errors while polling are retried this many times in a row before the
# sign-in fails: a Wi-Fi blip must not cost the person their sign-in.
_MAX_CONSECUTIVE_NETWORK_ERRORS = 3
_RETRIABLE = ("authorization_pending", "slow_down")
# msal's default throttle after an HTTP 5xx without Retry-After (throttled_http_client.py).
_SERVER_ERROR_PAUSE_S = 5
REFUSED_NOW = (
    "This organization does not allow signing in with a device code (Conditional Access, "
    "AADSTS53003): sign in in your browser instead."
)
REFUSED_BEFORE = (
    "This organization refused device code sign-in earlier in this kernel (Conditional "
    "Access): sign in in your browser instead."
)


def start(session: Session, request: SignInRequest) -> SignIn:
    """Request a device code, show the prompt, start polling; return the pending SignIn.

    A tenant that refused device code earlier in this kernel gets the browser at once."""
    import requests  # Lazy load

    if request.tenant in session.device_code_refusals:
        return _in_the_browser(session, request, REFUSED_BEFORE).signin

    from .._http import network_error

    authority = f"{request.authority_host}/{request.tenant}"
    app = session.public_client(authority, request.client_id)
    try:
        flow = app.initiate_device_flow(
            scopes=list(request.scopes), claims_challenge=request.claims
        )
    except requests.RequestException as exc:
        raise AuthenticationError(
            network_error(request.authority_host, exc, "while starting the sign-in")
        ) from None
    except ValueError as exc:
        raise AuthenticationError(
            f"{request.authority_host} answered the device code request with something nbauth "
            f"could not read ({redact(exc)[:200]}). Try again."
        ) from None
    except Exception as exc:  # noqa: BLE001 - an HTTP 5xx, or an answer msal cannot parse
        raise unexpected_msal_error(request.authority_host, exc) from None
    # The raise statements below name no variable that holds the flow: under `%xmode Verbose`
    # a traceback prints the variables of the line that raised, and the flow holds the
    # device code.
    if "user_code" not in flow or "device_code" not in flow:
        error = from_msal_result(flow)
        raise error
    prompt = _prompt_of(flow)
    if prompt is None:
        raise AuthenticationError(
            f"{request.authority_host} answered the device code request with a missing or "
            f"malformed user_code, verification_uri, interval or expiry. Try again; if it "
            f"persists, check authority_host."
        )

    def stop_msal_polling() -> None:
        # msal's documented way to end acquire_token_by_device_flow early.
        flow["expires_at"] = 0

    signin = SignIn(method=METHOD, prompt=prompt, on_cancel=stop_msal_polling)
    session.track_pending(signin)
    try:
        request.prompt(prompt)
    except BaseException:
        signin.cancel()
        raise
    signin.start_worker(
        lambda s: _poll(s, session, app, flow, request), name="nbauth-device-code-poller"
    )
    return signin


def _in_the_browser(
    session: Session, request: SignInRequest, reason: str, signin: SignIn | None = None
) -> _paste_back.PasteBack:
    """The paste-back browser sign-in instead (see `._paste_back`); with `signin`, it goes on
    with that pending sign-in, else it is a new one whose worker is started here."""
    local = _kernel_location.detect().local
    paste = _paste_back.begin(session, request, listen=local, reason=reason, signin=signin)
    new = paste.show()
    if signin is None:
        new.start_worker(paste.wait_for_answer, name="nbauth-browser-sign-in")
    return paste


def _prompt_of(flow: dict[str, Any]) -> DeviceCodePrompt | None:
    """The prompt for msal's `flow` (its ``interval`` made sane), or None if malformed."""
    uri = flow.get("verification_uri") or flow.get("verification_url")
    if not (isinstance(uri, str) and uri.strip()):
        return None  # nowhere to send the person
    if not (isinstance(flow.get("user_code"), str) and flow["user_code"].strip()):
        return None  # nothing to type there
    try:
        flow["interval"] = max(1, int(flow.get("interval", 5)))
        return DeviceCodePrompt(
            verification_uri=uri,
            user_code=flow["user_code"],
            expires_on=float(flow["expires_at"]),
            message=str(flow.get("message") or ""),
            interval=int(flow["interval"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def _poll(
    signin: SignIn,
    session: Session,
    app: msal.PublicClientApplication,
    flow: dict[str, Any],
    request: SignInRequest,
) -> None:
    import requests  # Lazy load
    from msal.exceptions import MsalServiceError

    cancelled = signin.cancel_requested
    network_errors = 0
    while not cancelled.is_set():
        if time.time() >= flow["expires_at"]:
            signin.fail(
                _signin.EXPIRED,
                SignInExpired(
                    "The sign-in code expired before it was used. Run `%azlogin` again and "
                    "enter the new code within its lifetime (usually 15 minutes)."
                ),
            )
            return
        try:
            result = app.acquire_token_by_device_flow(flow, exit_condition=lambda _flow: True)
        except (requests.RequestException, ValueError, MsalServiceError) as exc:
            # MsalServiceError: an HTTP 5xx, as transient as a dropped connection.
            network_errors += 1
            _LOGGER.debug("device code poll failed: %s", type(exc).__name__)
            if network_errors >= _MAX_CONSECUTIVE_NETWORK_ERRORS:
                signin.fail(
                    _signin.FAILED,
                    AuthenticationError(
                        f"Lost contact with {request.authority_host} while waiting for the "
                        f"sign-in ({type(exc).__name__}: {redact(exc)[:100]}). Check the "
                        f"network connection and run `%azlogin` again."
                    ),
                )
                return
            # After a 5xx msal answers the same poll from its cache until Retry-After (5 s by
            # default) has passed; a retry before that would be no retry at all.
            pause = _SERVER_ERROR_PAUSE_S if isinstance(exc, MsalServiceError) else 0
            cancelled.wait(max(flow["interval"], pause))
            continue
        network_errors = 0
        if cancelled.is_set():
            if "access_token" in result:
                _msal_account.discard(session, app, result)
            return
        if "access_token" in result:
            _msal_account.succeed(signin, session, app, result, request, METHOD)
            return
        if result.get("error") in _RETRIABLE:
            cancelled.wait(flow["interval"])
            continue
        if _paste_back.refused_device_code(result):
            # Conditional Access blocks this flow: go on in the browser, in the same card.
            session.device_code_refusals.add(request.tenant)
            try:
                paste = _in_the_browser(session, request, REFUSED_NOW, signin)
            except AuthenticationError as exc:
                signin.fail(_signin.FAILED, exc)
                return
            paste.wait_for_answer(signin)
            return
        error = from_msal_result(result)
        if isinstance(error, SignInDeclined):
            status = _signin.DECLINED
        elif isinstance(error, SignInExpired):
            status = _signin.EXPIRED
        else:
            status = _signin.FAILED
        signin.fail(status, error)
        return


DECLARATION = Method(
    METHOD,
    start,
    aliases=("devicecode", "device-code"),
    person=True,
    account="silent",
    auto=AutoPlace("device code sign-in", None, "dev", stop_on_failure=True, order=80),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
