"""A browser sign-in that the person finishes by pasting back the address it ends on.

Authorization code + PKCE with a loopback redirect, ``http://localhost:<port>``, which Entra
accepts on any port for public clients such as the Azure CLI's ("Redirect URI (reply URL)
restrictions", learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions).
msal builds the request (verifier and challenge, state, nonce: ``initiate_auth_code_flow``) and
redeems the answer (``acquire_token_by_auth_code_flow``); the verifier stays in this kernel.

The answer comes back as ``response_mode=query``: in the address, where a person can copy it.
(``form_post``, msal's recommendation, puts it in a POST body nobody can copy.) A kernel on the
browser's machine also listens on the port and catches the answer by itself; a remote kernel
(JupyterHub, Binder, Codespaces, SSH...) cannot, so the person pastes the address the browser
shows ("This site can't be reached: localhost") into the card, or into `SignIn.complete`.

A wrong address (another sign-in's state, no code, a used or expired code, garbage) is refused
with `PastedAddressError` or Entra's refusal, and the sign-in goes on waiting; ``error=
access_denied`` declines it. Redeeming runs in a thread of its own (`nbauth._flight`): the code
never sits in a frame the stop button or a Verbose traceback can show.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .. import _signin
from .._base_errors import PastedAddressError, redact
from .._errors import (
    AuthenticationError,
    EntraError,
    SignInDeclined,
    SignInExpired,
    from_msal_result,
    unexpected_msal_error,
)
from .._flight import launch
from .._http import network_error
from .._prompt import BrowserPrompt
from .._signin import SignIn
from ._msal_account import discard, succeed
from ._redirect_listener import RedirectListener

if TYPE_CHECKING:
    import msal

    from .._hidden import HiddenText
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = [
    "LIFETIME_S",
    "PERSON_METHOD_ENV",
    "PasteBack",
    "RefusedTenants",
    "begin",
    "prefers_browser",
    "refused_device_code",
]

# How long a browser sign-in waits for the person; Entra's own sign-in page session is ~10 min.
LIFETIME_S = 600.0
# A pasted address is a line of the address bar; anything longer is not one.
_MAX_ADDRESS_CHARS = 8192
# An unused port in the dynamic range for a redirect nobody listens to (remote kernels).
_DYNAMIC_PORTS = (49152, 65535)


def begin(
    session: Session,
    request: SignInRequest,
    *,
    listen: bool,
    reason: str = "",
    login_hint: str | None = None,
    signin: SignIn | None = None,
    method: str = "browser",
) -> PasteBack:
    """Start the sign-in: the authorize address is ready (``.prompt``), nothing is shown yet.

    ``listen``: catch the answer on this machine's loopback too (a local kernel). ``signin``:
    a pending sign-in to go on with (device code refused by the tenant), else a new one.
    """
    import requests  # Lazy load

    app = session.public_client(f"{request.authority_host}/{request.tenant}", request.client_id)
    state = RedirectListener.new_state()
    listener = RedirectListener(state) if listen else None
    low, high = _DYNAMIC_PORTS
    redirect_uri = (
        listener.redirect_uri
        if listener is not None
        else f"http://localhost:{low + secrets.randbelow(high - low)}"
    )
    try:
        with warnings.catch_warnings():
            # msal recommends form_post; query is the mode whose answer a person can copy.
            warnings.filterwarnings("ignore", message=".*form_post.*is recommended")
            flow = app.initiate_auth_code_flow(
                list(request.scopes),
                redirect_uri=redirect_uri,
                state=state,
                prompt="select_account",  # what azure-identity asks for: let the person pick
                login_hint=login_hint,
                claims_challenge=request.claims,
                response_mode="query",
            )
    except requests.RequestException as exc:
        if listener is not None:
            listener.close()
        raise AuthenticationError(
            network_error(request.authority_host, exc, "while starting the sign-in")
        ) from None
    except BaseException as exc:
        if listener is not None:
            listener.close()
        if isinstance(exc, Exception):
            raise unexpected_msal_error(request.authority_host, exc) from None
        raise
    prompt = BrowserPrompt(
        verification_uri=str(flow["auth_uri"]),
        redirect_uri=redirect_uri,
        expires_on=time.time() + LIFETIME_S,
        reason=reason,
        listening=listener is not None,
    )
    return PasteBack(session, request, app, flow, prompt, listener, signin, method)


class PasteBack:
    """One paste-back sign-in in progress (see the module docstring)."""

    def __init__(
        self,
        session: Session,
        request: SignInRequest,
        app: msal.PublicClientApplication,
        flow: dict[str, Any],
        prompt: BrowserPrompt,
        listener: RedirectListener | None,
        signin: SignIn | None,
        method: str,
    ) -> None:
        self._session = session
        self._request = request
        self._app = app
        self._flow = flow
        self._state = str(flow["state"])
        self.prompt = prompt
        self._listener = listener
        self._method = method
        self._redeeming = threading.Lock()  # one answer redeemed at a time
        self.signin = signin or SignIn(method=method, prompt=prompt, on_cancel=self._close)

    def __repr__(self) -> str:
        return f"<PasteBack {self.prompt.redirect_uri}>"

    def show(self) -> SignIn:
        """Make the sign-in pending and shown (a new one), or switch a pending one to it."""
        signin = self.signin
        signin.set_completer(self.complete)
        if signin.prompt is self.prompt:  # new: track it, then show it
            self._session.track_pending(signin)
            try:
                self._request.prompt(self.prompt)
            except BaseException:
                signin.cancel()
                raise
        else:  # an ongoing sign-in: the card or text that shows it follows the prompt
            signin.set_prompt(self.prompt)
            self._request.prompt(self.prompt)
        return signin

    def wait_for_answer(self, signin: SignIn) -> None:
        """The sign-in's worker: until the listener catches an answer, `complete` is called,
        the sign-in is cancelled or it expires."""
        cancelled = signin.cancel_requested
        deadline = self.prompt.expires_on
        try:
            while not signin.done() and not cancelled.is_set():
                if time.time() >= deadline:
                    signin.fail(
                        _signin.EXPIRED,
                        SignInExpired(
                            f"The browser sign-in was not finished within {LIFETIME_S / 60:g} "
                            f"minutes and was stopped. Run `%azlogin` again."
                        ),
                    )
                    return
                listener = self._listener
                fields = listener.wait(0.2) if listener is not None else None
                if fields is None:
                    if listener is None:
                        cancelled.wait(0.2)
                    continue
                self._close()
                try:
                    self._redeem(fields)
                except (AuthenticationError, PastedAddressError) as exc:
                    if not signin.done():  # nobody to tell but the sign-in itself
                        error = exc if isinstance(exc, AuthenticationError) else None
                        signin.fail(
                            _signin.FAILED, error or AuthenticationError(redact(exc))
                        )
        finally:
            self._close()

    def complete(self, address: HiddenText) -> None:
        """`SignIn.complete`: check the pasted address, then redeem its code (see module doc)."""
        flight = launch(lambda: self._redeem(self._fields(address.reveal())), name="nbauth-paste")
        flight.wait()

    def _fields(self, address: object) -> dict[str, str]:
        """The answer in a pasted address, checked against this sign-in; never echoed."""
        host = self.prompt.redirect_uri.split("://", 1)[-1]
        if not isinstance(address, str) or not address.strip():
            raise PastedAddressError(
                f"Paste the whole address from the browser's address bar, as text: it starts "
                f"with http://{host}/?code=."
            )
        text = address.strip()
        if len(text) > _MAX_ADDRESS_CHARS:
            raise PastedAddressError(
                f"That is longer than any address the sign-in ends on. Paste only the address "
                f"from the browser's address bar (http://{host}/?code=...)."
            )
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PastedAddressError(
                f"That is not an address. After signing in, copy the whole address from the "
                f"browser's address bar (it starts with http://{host}/?code=) and paste it."
            )
        fields = {key: values[0] for key, values in parse_qs(parts.query).items() if values}
        if "code" not in fields and "error" not in fields:
            raise PastedAddressError(
                f"That address holds no sign-in answer (no code=). Sign in on the page opened "
                f"by 'Open sign-in page', then paste the address the browser ends on "
                f"(http://{host}/?code=...)."
            )
        if not secrets.compare_digest(fields.get("state", ""), self._state):
            raise PastedAddressError(
                "That address is the answer to another sign-in (its state does not match this "
                "one). Open this sign-in's page and paste the address it ends on."
            )
        return fields

    def _redeem(self, fields: dict[str, str]) -> None:
        """Finish the sign-in with a checked answer; raise (the sign-in stays pending) if the
        answer is refused, except a declined sign-in, which ends it."""
        import requests  # Lazy load

        signin, request = self.signin, self._request
        with self._redeeming:
            if signin.done():
                return
            error = fields.get("error")
            if error == "access_denied":
                declined = SignInDeclined(
                    "The sign-in was declined in the browser. If that was a mistake, run "
                    "`%azlogin` again and approve it."
                )
                signin.fail(_signin.DECLINED, declined)
                raise declined
            if error:
                raise PastedAddressError(
                    f"The sign-in page answered {redact(error)[:60]!r} instead of a code. Open "
                    f"the sign-in page again, finish signing in, and paste the new address."
                )
            try:
                result = self._app.acquire_token_by_auth_code_flow(self._flow, fields)
            except requests.RequestException as exc:
                raise AuthenticationError(
                    network_error(request.authority_host, exc, "while finishing the sign-in")
                ) from None
            except ValueError:
                # msal's own checks of the answer (state, nonce) refused it.
                raise PastedAddressError(
                    "That address does not belong to this sign-in. Open this sign-in's page and "
                    "paste the address it ends on."
                ) from None
            except Exception as exc:  # noqa: BLE001 - an HTTP 5xx (MsalServiceError), or worse
                # In words, the sign-in still pending (msal's own text is "HTTP Error: 500").
                raise unexpected_msal_error(request.authority_host, exc) from None
            if signin.cancel_requested.is_set():
                if "access_token" in result:
                    discard(self._session, self._app, result)
                return
            if "access_token" in result:
                self._close()
                succeed(signin, self._session, self._app, result, request, self._method)
                return
            refusal = from_msal_result(result)
            if isinstance(refusal, EntraError) and refusal.error == "access_denied":
                signin.fail(_signin.DECLINED, refusal)
            raise refusal

    def _close(self) -> None:
        if self._listener is not None:
            self._listener.close()


def refused_device_code(result: dict[str, Any]) -> bool:
    """Whether a device-code answer is a Conditional Access refusal of the flow itself.

    Entra answers the poll with ``invalid_grant`` and ``error_codes`` [53003], "AADSTS53003:
    Access has been blocked by Conditional Access policies. The access policy does not allow
    token issuance." (Azure/azure-cli#32809 and #32420; the device-code flow is an
    "authentication flows" condition: learn.microsoft.com/entra/identity/conditional-access/
    concept-authentication-flows). The error string varies by endpoint version; the code
    does not.
    """
    codes = result.get("error_codes")
    return isinstance(codes, list) and 53003 in codes


PERSON_METHOD_ENV = "NBAUTH_PERSON_METHOD"
"""``browser``: on a remote kernel, a person signs in in the browser (paste-back) instead of
with a device code: for tenants whose Conditional Access blocks device code. ``device_code``
(the default) keeps the device code. ``c.AzloginMagics.person_method`` sets it too."""
_PERSON_METHODS = ("device_code", "browser")


def prefers_browser(session: Session) -> bool:
    """Whether a person on this kernel signs in in the browser rather than with a device code:
    the session's setting, else ``$NBAUTH_PERSON_METHOD``; only on remote kernels (a local one
    opens the browser anyway with ``--method browser``)."""
    from .. import _kernel_location
    from .._base_errors import ConfigurationError

    setting = session.person_method
    where = "c.AzloginMagics.person_method"
    if not setting:
        setting, where = os.environ.get(PERSON_METHOD_ENV, "").strip().lower(), PERSON_METHOD_ENV
    if not setting:
        return False
    if setting not in _PERSON_METHODS:
        raise ConfigurationError(
            f"{where} must be 'device_code' or 'browser' (how a person signs in on a remote "
            f"kernel); it is something else. Fix or unset it."
        )
    return setting == "browser" and not _kernel_location.detect().local


class RefusedTenants:
    """The tenants whose Conditional Access refused the device-code flow: the next sign-in to
    one goes straight to the browser. Kept by the session for the kernel's life, and noted on
    disk for later kernels when persistence is on (``notes``: the session's persister)."""

    def __init__(self, notes: Callable[[], Notes] | None = None) -> None:
        self._lock = threading.Lock()
        self._tenants: set[str] = set()
        self._notes = notes

    def __repr__(self) -> str:
        return f"<RefusedTenants {sorted(self._tenants)}>"

    def add(self, tenant: str) -> None:
        with self._lock:
            self._tenants.add(tenant.lower())
        if self._notes is not None:
            self._notes().note_refusal(tenant.lower())

    def __contains__(self, tenant: object) -> bool:
        if not isinstance(tenant, str):
            return False
        with self._lock:
            if tenant.lower() in self._tenants:
                return True
        return self._notes is not None and tenant.lower() in self._notes().refused_tenants()


class Notes(Protocol):
    """Where refusals are noted for later kernels (`nbauth._persistence.Persister`)."""

    def refused_tenants(self) -> set[str]: ...

    def note_refusal(self, tenant: str) -> None: ...
