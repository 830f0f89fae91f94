"""Where azure-identity's exceptions become nbauth's, and its log warnings go quiet.

`translate_error` is the one place: ``CredentialUnavailableError`` -> `MethodUnavailable`,
saying what to install / set / run; ``ClientAuthenticationError`` -> `EntraError` through
`from_msal_result` when Entra answered, else `AuthenticationError` with guidance; a network
failure -> the same sentence as msal's (`nbauth._http.network_error`). `translated` wraps each
call of a credential with it, and keeps azure-identity's own warnings about the same failure
out of the log.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .._errors import (
    REDACTED,
    AuthenticationError,
    ConfigurationError,
    from_msal_result,
    redact,
)
from .._http import describe_network_failure, network_error
from ._unavailable import MethodUnavailable

__all__ = ["translate_error", "translated"]

_AADSTS = re.compile(r"AADSTS\d+")
# What Python's int() and float() say about text or values that are no number.
_NOT_A_NUMBER = (
    "invalid literal for int()",
    "could not convert string to float",
    "cannot convert float",
)


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            return line
    return ""


def translate_error(exc: BaseException, *, method: str, label: str, fix: str) -> Exception:
    """The nbauth exception for an exception raised by an azure-identity credential.

    The one place where azure-identity's errors become nbauth's. ``label`` names the source
    ("the Azure CLI"), ``fix`` says what to install, set or run. Text from the credential is
    redacted: the CLI credentials quote the tool's output.
    """
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    if isinstance(exc, (MethodUnavailable, ConfigurationError, AuthenticationError)):
        return exc
    message = redact(getattr(exc, "message", None) or str(exc))
    timeout = _timed_out(exc)
    if timeout is not None:
        # azure-identity reports a tool that hangs as "Failed to invoke ...": installing it is
        # not the fix, it is there.
        return AuthenticationError(
            f"{label} did not answer within {timeout:g} s and was stopped. Run it in a terminal "
            f"to see what it waits for (a prompt, a sign-in), or pass process_timeout=<seconds> "
            f"if it is only slow."
        )
    if isinstance(exc, CredentialUnavailableError):
        return MethodUnavailable(method, _first_line(message) or f"{label} gave no token", fix)
    if describe_network_failure(label, exc) is not None:
        return AuthenticationError(network_error(label, exc))
    if isinstance(exc, ClientAuthenticationError):
        body = _entra_body(exc)
        if body is not None:
            return from_msal_result(body)
        found = _AADSTS.search(message)
        if found:
            # azure-identity keeps only Entra's description ("Authentication failed: AADSTS...")
            return from_msal_result({"error_description": message[found.start() :]})
        if _not_a_number(message):  # msal's int() of the answer, wrapped by azure-identity
            return _lifetime_not_a_number(label, message)
        return AuthenticationError(
            f"{label} could not get a token: {_first_line(message)[:300]} {fix}".strip()
        )
    if isinstance(exc, (ValueError, OverflowError)) and _not_a_number(message):
        # int() / float() of the answer's expires_on, expires_in or refresh_in failed: the
        # server's fault, not the caller's (whose values azure-identity checks with words).
        return _lifetime_not_a_number(label, message)
    if isinstance(exc, ValueError):
        return ConfigurationError(f"{label} refused the request: {_first_line(message)[:300]}")
    return AuthenticationError(
        f"{label} failed unexpectedly ({type(exc).__name__}: {_first_line(message)[:200]}). {fix}"
    )


def _not_a_number(message: str) -> bool:
    return any(words in message for words in _NOT_A_NUMBER)


def _lifetime_not_a_number(label: str, message: str) -> AuthenticationError:
    found = min(message.find(words) for words in _NOT_A_NUMBER if words in message)
    return AuthenticationError(
        f"{label} sent a token answer whose lifetime (expires_on, expires_in or refresh_in) "
        f"is not a number ({_first_line(message[found:])[:80]}). Try again; if it persists, "
        f"the service is broken."
    )


def _timed_out(exc: BaseException) -> float | None:
    """The timeout, if `exc` was caused by a tool's process not finishing in time."""
    import subprocess

    seen: BaseException | None = exc
    for _ in range(5):  # a short cause chain; never loop on a cycle
        if seen is None:
            return None
        if isinstance(seen, subprocess.TimeoutExpired):
            return float(seen.timeout)
        seen = seen.__cause__ or seen.__context__
    return None


def _scrub(exc: BaseException) -> None:
    """Redact the text of azure-identity's exception `exc` in place.

    It is no longer raised, but a traceback of the error raised in its place shows it: this
    generator's frame and contextlib's ``__exit__`` frame hold it, and ``%xmode Verbose``
    prints their variables, i.e. its repr, which quotes Entra's or a tool's text as is.
    """
    exc.args = tuple(redact(a) if isinstance(a, str) else REDACTED for a in exc.args)
    if isinstance(getattr(exc, "message", None), str):
        exc.message = redact(exc.message)  # type: ignore[attr-defined]


def _entra_body(exc: BaseException) -> dict[str, Any] | None:
    """Entra's JSON error body, when azure-identity kept the response."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        body = json.loads(response.text())
    except Exception:  # noqa: BLE001 - anything unreadable is simply not Entra's error body
        return None
    return body if isinstance(body, dict) and body.get("error") else None


# azure-identity logs a WARNING for every failed get_token outside its own chains; nbauth
# raises the same news as an exception with advice, so those records are dropped while an
# nbauth method is asking.
_asking: ContextVar[bool] = ContextVar("nbauth_asking_azure_identity", default=False)
_filter_lock = threading.Lock()
_filtered: set[str] = set()


class _QuietWhileAsking(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_asking.get() and record.levelno < logging.ERROR)


_QUIET = _QuietWhileAsking()


def _install_filter() -> None:
    """Filter every azure.identity logger. A logger's filters do not see its children's
    records, each azure-identity module logs through its own logger, and some modules are
    imported only when a credential is built: so new loggers are looked for on every call
    (a scan of the logger names, on the sign-in and refresh path only)."""
    with _filter_lock:
        for name in list(logging.Logger.manager.loggerDict):
            if name not in _filtered and (
                name == "azure.identity" or name.startswith("azure.identity.")
            ):
                logging.getLogger(name).addFilter(_QUIET)
                _filtered.add(name)


@contextmanager
def translated(method: str, label: str, fix: str) -> Iterator[None]:
    """Run a call to azure-identity: its errors translated, its warnings kept quiet."""
    _install_filter()
    token = _asking.set(True)
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - translate_error decides
        error = translate_error(exc, method=method, label=label, fix=fix)
        if error is not exc:
            _scrub(exc)
        raise error from None
    finally:
        _asking.reset(token)
