"""A sign-in in progress, and the account it produces.

A `SignIn` is what `nbauth.login()` returns: pending while the person finishes signing in
elsewhere, then succeeded (with an `Account`) or failed in one of a few named ways. The work
(polling Entra ID) runs in a daemon thread owned by the sign-in method; this object only keeps
the state, lets callers wait or cancel, and tells listeners (the UI) when it is done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._arguments import seconds
from ._authority import Authority
from ._errors import AuthenticationError, ConfigurationError, SignInCancelled, SignInTimeout
from ._hidden import HiddenText
from ._signin_status import (
    CANCELLED,
    DECLINED,
    EXPIRED,
    FAILED,
    PENDING,
    STATUSES,
    SUCCEEDED,
    cancelled_text,
)

if TYPE_CHECKING:
    from ._prompt import Prompt

__all__ = [
    "CANCELLED",
    "DECLINED",
    "EXPIRED",
    "FAILED",
    "PENDING",
    "STATUSES",
    "SUCCEEDED",
    "Account",
    "SignIn",
    "SignInReport",
    "cancelled_text",
    "wait_or_cancel",
]

_LOGGER = logging.getLogger("nbauth")


# Waiting in short slices keeps a blocked main thread responsive to KeyboardInterrupt (a
# kernel interrupt, or _thread.interrupt_main), which an untimed lock wait is not everywhere.
_WAIT_SLICE_S = 0.1
# How long cancel() waits for the worker thread; it wakes at once unless an HTTP request is
# in flight.
_CANCEL_JOIN_S = 1.0


@dataclass(frozen=True)
class Account:
    """Who is signed in. Holds no token."""

    username: str
    home_account_id: str
    """``<object id>.<home tenant id>``: stable across tenants, the key msal uses."""
    tenant_id: str | None
    """The tenant the sign-in was made to (from the ID token)."""
    home_tenant_id: str | None
    name: str | None
    method: str
    """The sign-in method, e.g. ``device_code``."""
    authority: str
    """The authority URL the sign-in used, e.g. ``https://login.microsoftonline.com/organizations``."""
    client_id: str | None = None
    """The application (client) ID the sign-in used; signing in again should reuse it."""

    @property
    def authority_pair(self) -> Authority:
        """`authority` as (host, tenant)."""
        return Authority.parse(self.authority)

    def __str__(self) -> str:
        return self.username


class SignInReport(Protocol):
    """How a method that tries several ways chose this sign-in (``auto``: `nbauth.AutoReport`).
    Text only: ``str()`` lists what was tried and why."""

    @property
    def chosen(self) -> str | None:
        """The way that signed in (None: none did)."""
        ...

    def headline(self) -> str: ...


class SignIn:
    """A sign-in: pending, then succeeded or failed. Returned by `nbauth.login()`.

    ``status`` is one of ``"pending"``, ``"succeeded"``, ``"cancelled"``, ``"declined"``,
    ``"expired"``, ``"failed"``. ``prompt`` is what to show the person (for device code: the
    URL and user code). ``wait()`` blocks until done and returns the `Account` or raises the
    failure; ``cancel()`` stops it. ``report``: what the ``auto`` chain tried before it chose
    this sign-in (None for a sign-in made by naming its method).
    """

    def __init__(
        self,
        *,
        method: str,
        prompt: Prompt | None = None,
        on_cancel: Callable[[], None] | None = None,
        report: SignInReport | None = None,
    ) -> None:
        self.method = method
        self.prompt = prompt
        self._report = report
        self._on_cancel = on_cancel
        self._lock = threading.Lock()
        self._status = PENDING
        self._account: object = None
        self._error: AuthenticationError | None = None
        self._done = threading.Event()
        self._cancel_requested = threading.Event()
        self._callbacks: list[Callable[[SignIn], object]] = []
        self._thread: threading.Thread | None = None
        self._completer: Callable[[HiddenText], object] | None = None
        self._prompt_callbacks: list[Callable[[SignIn], object]] = []
        self.started_at = time.time()

    # -- what callers see --------------------------------------------------------------------

    @property
    def status(self) -> str:
        return self._status

    @property
    def account(self) -> Account | None:
        """The signed-in account once succeeded, else None."""
        return self._account  # type: ignore[return-value]

    @property
    def error(self) -> AuthenticationError | None:
        """Why the sign-in failed (None while pending or after success)."""
        return self._error

    @property
    def report(self) -> SignInReport | None:
        """What the ``auto`` chain tried to choose this sign-in (`nbauth.AutoReport`), or None."""
        return self._report

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> Account:
        """Block until done; return the `Account` or raise why it failed.

        Raises `SignInTimeout` if `timeout` seconds pass while still pending (the sign-in keeps
        going; call ``wait()`` again or ``cancel()``).
        """
        timeout = seconds(timeout)  # nan would never be reached: see nbauth._arguments
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            remaining = _WAIT_SLICE_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise SignInTimeout(
                    f"The sign-in is still pending after {timeout:g} s. Finish it in the browser "
                    f"and call .wait() again, or call .cancel()."
                )
            self._done.wait(min(_WAIT_SLICE_S, remaining))
        if self._error is not None:
            raise self._error
        return self._account  # type: ignore[return-value]

    def cancel(self) -> bool:
        """Stop the sign-in. Returns False if it had already finished.

        The worker thread is stopped and joined (it wakes at once unless a request to Entra ID
        is in flight). An account that was signed in before stays signed in.
        """
        finished = self._finish(
            CANCELLED,
            error=SignInCancelled(
                "The sign-in was cancelled. Run `%azlogin` (or `nbauth.login()`) to start a new one."
            ),
        )
        self._join(_CANCEL_JOIN_S)
        return finished

    def add_done_callback(self, fn: Callable[[SignIn], object]) -> None:
        """Call ``fn(sign_in)`` once done: from the thread that finished it (usually the polling
        thread), or right away if already done. Exceptions in `fn` are logged, not raised."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        self._run_callback(fn)

    def remove_done_callback(self, fn: Callable[[SignIn], object]) -> None:
        """Forget `fn` (an async waiter that was cancelled must not stay referenced)."""
        with self._lock:
            if fn in self._callbacks:
                self._callbacks.remove(fn)

    def complete(self, address: str) -> Account:
        """Finish a browser sign-in with the address the browser ended on after signing in
        (``http://localhost:<port>/?code=...&state=...``, pasted by the person); returns the
        account, as `wait` then does.

        A wrong address (another sign-in's, no code, a used or expired code, not an address)
        raises `PastedAddressError` or the server's refusal, and the sign-in keeps waiting for
        the right one; one that says the person declined declines the sign-in.
        """
        hidden = HiddenText(address)
        del address  # %xmode Verbose prints this frame's variables: the code must not be one
        completer = self._completer
        if completer is None:
            raise ConfigurationError(
                f"This {self.method} sign-in is not finished by pasting an address; only a "
                f"browser sign-in (prompt.verification_uri to open) is."
            )
        if self.done():
            return self.wait()
        completer(hidden)
        return self.wait()

    def add_prompt_callback(self, fn: Callable[[SignIn], object]) -> None:
        """Call ``fn(sign_in)`` when `prompt` changes (a device code sign-in that the tenant
        refuses goes on in the browser: `nbauth._methods._paste_back`)."""
        with self._lock:
            self._prompt_callbacks.append(fn)

    def __repr__(self) -> str:
        code = f" user_code={self.prompt.user_code}" if self.prompt and self.prompt.user_code else ""
        who = f" account={self._account}" if self._account is not None else ""
        return f"<SignIn {self.method} {self._status}{code}{who}>"

    def __getstate__(self) -> object:
        raise TypeError("A SignIn is live state of this kernel and cannot be pickled.")

    # -- for sign-in methods -----------------------------------------------------------------

    def set_report(self, report: SignInReport) -> None:
        """For a method that chose this sign-in among others (``auto``): say how it chose."""
        self._report = report

    def set_completer(self, completer: Callable[[HiddenText], object]) -> None:
        """For a paste-back method: how `complete` finishes this sign-in."""
        self._completer = completer

    def set_prompt(self, prompt: Prompt) -> None:
        """For a method that changes what the person must do: show `prompt` instead."""
        with self._lock:
            self.prompt = prompt
            callbacks = list(self._prompt_callbacks)
        for fn in callbacks:
            self._run_callback(fn)

    @property
    def cancel_requested(self) -> threading.Event:
        """Set when the sign-in is cancelled; the worker waits on it between polls."""
        return self._cancel_requested

    def start_worker(self, target: Callable[[SignIn], None], *, name: str) -> None:
        """Run `target(self)` in a daemon thread; it must end by calling `succeed`/`fail`."""

        def run() -> None:
            try:
                target(self)
            except BaseException as exc:  # noqa: BLE001 - the thread must always settle it
                _LOGGER.debug("sign-in worker crashed", exc_info=True)
                self.fail(
                    FAILED,
                    AuthenticationError(f"The sign-in failed unexpectedly: {type(exc).__name__}."),
                )

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def succeed(self, account: Account, adopt: Callable[[], None] | None = None) -> bool:
        """Mark succeeded; `adopt` (make the account current) runs first, atomically with the
        status change, so a concurrent cancel() either wins entirely or not at all."""
        with self._lock:
            if self._status != PENDING:
                return False
            if adopt is not None:
                adopt()
            self._account = account
            self._status = SUCCEEDED
        self._after_finish()
        return True

    def fail(self, status: str, error: AuthenticationError) -> bool:
        return self._finish(status, error=error)

    # -- internals ---------------------------------------------------------------------------

    def _finish(self, status: str, *, error: AuthenticationError) -> bool:
        with self._lock:
            if self._status != PENDING:
                return False
            self._status = status
            self._error = error
            self._cancel_requested.set()
        if status == CANCELLED and self._on_cancel is not None:
            try:
                self._on_cancel()
            except Exception:  # noqa: BLE001 - cancelling must not fail
                _LOGGER.debug("cancel hook failed", exc_info=True)
        self._after_finish()
        return True

    def _after_finish(self) -> None:
        with self._lock:
            callbacks, self._callbacks = self._callbacks, []
            self._done.set()
        for fn in callbacks:
            self._run_callback(fn)

    def _run_callback(self, fn: Callable[[SignIn], object]) -> None:
        try:
            fn(self)
        except Exception:  # noqa: BLE001 - a UI callback must not break the sign-in
            _LOGGER.warning("A sign-in done-callback raised an exception.", exc_info=True)

    def _join(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)


def wait_or_cancel(
    signin: SignIn,
    timeout: float | None,
    signed_in: Callable[[], Account | None],
    until: threading.Event | None = None,
) -> bool:
    """Wait for `signin` on behalf of a person: a timeout or the stop button cancels it.

    Raises `SignInTimeout` or `SignInCancelled` (saying who, per ``signed_in()``, is still
    signed in) once the sign-in is stopped, or the sign-in's own failure. A sign-in that
    succeeded just before the interrupt counts as succeeded. Returns True once it succeeded;
    False, the sign-in still pending, as soon as `until` is set (the person finishes it
    elsewhere: a card that only takes input while the kernel is idle).
    """
    try:
        if until is not None and not _done_before(signin, timeout, until):
            return False
        signin.wait(timeout)
        return True
    except SignInTimeout:
        signin.cancel()
        raise SignInTimeout(
            f"The sign-in did not finish within {timeout:g} s and was cancelled. Run "
            f"`%azlogin` (or `nbauth.login()`) again, with a longer timeout if needed."
        ) from None
    except KeyboardInterrupt:
        signin.cancel()
        if signin.status != SUCCEEDED:
            raise SignInCancelled(cancelled_text(signed_in())) from None
    return True


def _done_before(signin: SignIn, timeout: float | None, until: threading.Event) -> bool:
    """Whether `signin` ends before `until` is set; raises `SignInTimeout` after `timeout` s."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not signin.done():
        if until.is_set():
            return False
        left = _WAIT_SLICE_S if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise SignInTimeout("")  # worded by wait_or_cancel
        until.wait(min(_WAIT_SLICE_S, left))
    return True
