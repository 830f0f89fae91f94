"""nbauth's exceptions, and the one place where msal's error dicts become exceptions.

Every failure to get a token is an `AuthenticationError`, which is also azure-core's
`ClientAuthenticationError`, so code that already catches the Azure SDK's error catches ours.
Messages start with one plain-language line that says what to do next; Entra's own text and
correlation ID follow for whoever has to dig further.

Nothing here may carry a token, refresh token, client secret or device code: text copied from a
server is passed through `redact` first, and pickling keeps only plain fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from . import _aadsts

__all__ = [
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
    "from_msal_result",
    "redact",
]

REDACTED = "[redacted]"

# JWTs (access and id tokens) always start with a base64url '{"' header.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
# Runs of characters that refresh tokens, secrets and device codes are made of.
_OPAQUE_RUN = re.compile(r"[A-Za-z0-9_\-~+/=.]{32,}")
# Long runs that are *not* secrets: GUIDs and hex ids (correlation/trace ids), host names.
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_HOSTNAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")


def _looks_secret(part: str) -> bool:
    if len(part) < 32 or _HEXISH.fullmatch(part) or _HOSTNAME.fullmatch(part):
        return False
    has_digit = any(c.isdigit() for c in part)
    has_alpha = any(c.isalpha() for c in part)
    return has_digit and has_alpha


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    # Base64 refresh tokens may contain '/', URLs always do: judge each path segment, and a
    # long unbroken run as a whole.
    if "." not in run and "/" in run and len(run) >= 64 and _looks_secret(run.replace("/", "")):
        return REDACTED
    return "/".join(REDACTED if _looks_secret(part) else part for part in run.split("/"))


def redact(text: object) -> str:
    """Text with anything shaped like a token or secret replaced by ``[redacted]``.

    Defensive: used on every piece of text that came from a server or another library before it
    goes into a message, a log line or a repr. GUIDs (correlation IDs), host names and URLs
    stay readable.
    """
    out = _JWT.sub(REDACTED, str(text))
    return _OPAQUE_RUN.sub(_redact_run, out)


# Plain values survive pickling; live objects (responses, tracebacks) do not.
_PICKLED_TYPES = (str, int, float, bool, type(None))


def _restore(cls: type[NbauthError], message: str, fields: dict[str, Any]) -> NbauthError:
    exc = cls.__new__(cls)
    exc.args = (message,)
    exc.__dict__.update(fields)
    return exc


class NbauthError(Exception):
    """Base class of every nbauth error."""

    def __reduce__(self) -> tuple[Any, ...]:
        # A custom reduce because the subclasses take keyword-only arguments and azure-core's
        # base keeps tracebacks and responses, none of which may (or can) go into a pickle.
        fields: dict[str, Any] = {}
        for name, value in vars(self).items():
            if name.startswith("_"):
                # Private names are never data (e.g. IPython's `_render_traceback_` hook, set by
                # nbauth._ui.display.one_line): a copy must not get a None in their place.
                continue
            if isinstance(value, _PICKLED_TYPES):
                fields[name] = value
            elif isinstance(value, tuple) and all(isinstance(v, _PICKLED_TYPES) for v in value):
                fields[name] = value
            else:
                fields[name] = None
        message = str(self.args[0]) if self.args else ""
        return (_restore, (type(self), message, fields))


class ConfigurationError(NbauthError, ValueError):
    """An argument or setting is not valid; the message says what is accepted."""


class SignInTimeout(NbauthError, TimeoutError):
    """The sign-in was still pending when the timeout passed (it has not been cancelled)."""


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
