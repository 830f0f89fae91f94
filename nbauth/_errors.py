"""nbauth's exceptions, and the one place where msal's error dicts become exceptions.

Every failure to get a token is an `AuthenticationError`, which is also azure-core's
`ClientAuthenticationError`, so code that already catches the Azure SDK's error catches ours.
Messages start with one plain-language line that says what to do next; Entra's own text and
correlation ID follow for whoever has to dig further.

Nothing here may carry a token, refresh token, client secret or device code: text copied from a
server is passed through `redact` first, and pickling keeps only plain fields.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from . import _aadsts

__all__ = [
    "REDACTED",
    "AuthenticationError",
    "AuthenticationRequired",
    "ConfigurationError",
    "EntraError",
    "InteractionRequired",
    "NbauthError",
    "SignInCancelled",
    "SignInDeclined",
    "SignInError",
    "SignInExpired",
    "SignInTimeout",
    "discovery_error",
    "from_msal_result",
    "redact",
    "logged_out_meanwhile",
    "unexpected_msal_error",
]

from ._base_errors import (  # noqa: F401 - re-exported: one identity per name
    REDACTED,
    ConfigurationError,
    NbauthError,
    SignInTimeout,
    redact,
)

_LOGGER = logging.getLogger("nbauth")


class AuthenticationError(NbauthError, ClientAuthenticationError):
    """No token could be obtained. Also an azure-core ``ClientAuthenticationError``."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message)
        # azure-core's base captures whatever exception is being handled (sys.exc_info());
        # keep our errors free of foreign text and tracebacks. `raise ... from` keeps the cause.
        self.exc_type = self.exc_value = self.exc_traceback = None
        self.inner_exception = None
        self.exc_msg = self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class AuthenticationRequired(AuthenticationError):
    """Nobody is signed in (or the sign-in is gone); sign in first."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No Azure account is signed in in this kernel. Run `%azlogin` (or "
            "`nbauth.login()`) in a cell first, then run this cell again."
        )


class SignInError(AuthenticationError):
    """A sign-in did not complete."""


class SignInCancelled(SignInError):
    """The sign-in was cancelled (by `.cancel()`, the stop button, or a timeout)."""


class SignInDeclined(SignInError):
    """The person declined the sign-in on the sign-in page."""


class SignInExpired(SignInError):
    """The sign-in code expired before anyone used it."""


_TRACE_TAIL = re.compile(r"\s*Trace ID:.*\Z", re.DOTALL)
_TRACE_FIELD = {
    "trace_id": re.compile(r"Trace ID:\s*([0-9a-fA-F-]+)"),
    "correlation_id": re.compile(r"Correlation ID:\s*([0-9a-fA-F-]+)"),
    "timestamp": re.compile(r"Timestamp:\s*([0-9TZ:. -]+?)\s*$", re.MULTILINE),
}
_AADSTS = re.compile(r"AADSTS(\d+)")


class EntraError(AuthenticationError):
    """Entra ID answered with an error.

    Attributes: ``error`` (OAuth error, e.g. ``invalid_grant``), ``error_codes``, ``aadsts``
    (the first code, an int, or None), ``description`` (Entra's text), ``summary`` and
    ``guidance`` (plain language: what happened, what to do next), ``correlation_id``,
    ``trace_id``, ``timestamp``, ``suberror``.
    """

    # The OAuth error code, as msal and Entra name it: azure-core's base class types `error`
    # as its OData model, which an Entra answer never has.
    error: str  # type: ignore[assignment]

    def __init__(
        self,
        *,
        error: str,
        description: str = "",
        error_codes: tuple[int, ...] = (),
        correlation_id: str | None = None,
        trace_id: str | None = None,
        timestamp: str | None = None,
        suberror: str | None = None,
    ) -> None:
        description = redact(description)
        if not error_codes:
            found = _AADSTS.search(description)
            error_codes = (int(found.group(1)),) if found else ()
        fields = {
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "timestamp": timestamp,
        }
        for name, pattern in _TRACE_FIELD.items():
            if not fields[name]:
                found = pattern.search(description)
                fields[name] = found.group(1).strip() if found else None
        self.error = redact(error)
        self.error_codes = tuple(error_codes)
        self.aadsts = self.error_codes[0] if self.error_codes else None
        self.description = description
        self.correlation_id = redact(fields["correlation_id"]) if fields["correlation_id"] else None
        self.trace_id = redact(fields["trace_id"]) if fields["trace_id"] else None
        self.timestamp = redact(fields["timestamp"]) if fields["timestamp"] else None
        self.suberror = redact(suberror) if suberror else None
        explanation = _aadsts.explain(self.aadsts, self.error)
        self.summary = explanation.summary
        self.guidance = explanation.guidance
        super().__init__(self._compose())
        # HttpResponseError.__init__ resets `error` to its OData model (None here) and copies
        # our `error` string into `model`, which azure-core reserves for a deserialized body.
        self.error = redact(error)
        self.model = None

    def _compose(self) -> str:
        detail = _TRACE_TAIL.sub("", self.description).strip() or self.error
        if self.aadsts is not None and not detail.startswith("AADSTS"):
            detail = f"AADSTS{self.aadsts}: {detail}"
        ids = [
            f"{label} {value}"
            for label, value in (
                ("correlation id", self.correlation_id),
                ("trace id", self.trace_id),
                ("timestamp", self.timestamp),
            )
            if value
        ]
        second = f"{detail} ({', '.join(ids)})" if ids else detail
        return f"{self.summary} {self.guidance}\n{second}"


class InteractionRequired(EntraError, AuthenticationRequired):
    """Entra ID refused to renew the sign-in silently (revoked, expired, MFA, policy).

    Both an `EntraError` (with the code and guidance) and an `AuthenticationRequired`: the fix
    is to sign in again.
    """


def _codes(value: object) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        return ()
    out = []
    for item in value:
        try:
            out.append(int(item))
        except (TypeError, ValueError):
            continue
    return tuple(out)


def from_msal_result(result: Mapping[str, Any], *, silent: bool = False) -> AuthenticationError:
    """The exception for an msal result dict that has an ``error`` key.

    The one place where msal's error dicts become exceptions. ``silent``: the result came from
    a silent (refresh token) acquisition, where ``invalid_grant`` / ``interaction_required``
    mean "sign in again" and become `InteractionRequired`.
    """
    error = str(result.get("error") or "unknown_error")
    kwargs: dict[str, Any] = {
        "error": error,
        "description": str(result.get("error_description") or ""),
        "error_codes": _codes(result.get("error_codes")),
        "correlation_id": result.get("correlation_id"),
        "trace_id": result.get("trace_id"),
        "timestamp": result.get("timestamp"),
        "suberror": result.get("suberror"),
    }
    if error == "authorization_declined":
        cause = EntraError(**kwargs)
        exc: AuthenticationError = SignInDeclined(
            "The sign-in was declined on the sign-in page. If that was a mistake, run "
            "`%azlogin` again and approve it."
        )
        exc.__cause__ = cause
        return exc
    if error in ("expired_token", "code_expired"):
        cause = EntraError(**kwargs)
        exc = SignInExpired(
            "The sign-in code expired before it was used. Run `%azlogin` again and enter the "
            "new code within its lifetime (usually 15 minutes)."
        )
        exc.__cause__ = cause
        return exc
    if silent and error in ("invalid_grant", "interaction_required"):
        return InteractionRequired(**kwargs)
    return EntraError(**kwargs)


def logged_out_meanwhile(username: str) -> AuthenticationRequired:
    """For a token that arrived after its account was signed out (the sign-out wins)."""
    return AuthenticationRequired(
        f"{username} was signed out while this token was being fetched, so it was thrown away. "
        f"Run `%azlogin` (or `nbauth.login()`) to sign in again."
    )


def unexpected_msal_error(host: str, exc: Exception) -> AuthenticationError:
    """The error for anything else msal raises: MsalServiceError for an HTTP 5xx, or
    TypeError / IndexError / ... for an answer it could not parse.

    Callers raise it ``from None``: msal's frames hold the refresh token in their locals, and a
    traceback shown under ``%xmode Verbose`` prints the locals of every frame it shows.
    """
    _LOGGER.debug("msal failed talking to %s: %s", host, type(exc).__name__)
    if type(exc).__name__ == "MsalServiceError":  # msal's name for an HTTP 5xx answer
        return AuthenticationError(
            f"{host} answered with a server error ({redact(exc)[:100]}). Entra ID may be "
            f"having trouble: wait a minute and try again."
        )
    return AuthenticationError(
        f"{host} sent an answer nbauth could not use ({type(exc).__name__}). Try again; if it "
        f"persists, check authority_host."
    )


def discovery_error(authority: str, exc: ValueError) -> AuthenticationError:
    """msal reports a failed OIDC discovery as a ValueError whose context (the ValueError it
    replaced) holds the server's error body."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        start = text.find("{")
        if start != -1:
            try:
                body = json.loads(text[start:])
            except (ValueError, RecursionError):
                body = None
            if isinstance(body, dict) and body.get("error"):
                return from_msal_result(body)
        seen = seen.__context__
    return AuthenticationError(
        f"Entra ID did not accept the authority {authority}: {redact(exc)[:300]} Check the "
        f"tenant and authority_host."
    )
