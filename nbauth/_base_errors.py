r"""The light half of nbauth's errors: no azure-core import.

`NbauthError`, `ConfigurationError`, `SignInTimeout` and `redact` are all that argument checks,
clouds, the method table and the magics need at import time; keeping them here means
``%load_ext nbauth`` does not pay for azure-core (~70 ms) before the first sign-in. The errors
that are also azure-core ``ClientAuthenticationError``\ s live in `nbauth._errors`, which
re-exports these, so every name has one identity.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "REDACTED",
    "ConfigurationError",
    "NbauthError",
    "PastedAddressError",
    "SignInTimeout",
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


class PastedAddressError(NbauthError, ValueError):
    """The address pasted to finish a browser sign-in is not this sign-in's answer; the message
    says what is wrong with it (never what it holds). The sign-in keeps waiting."""


class SignInTimeout(NbauthError, TimeoutError):
    """The sign-in was still pending when the timeout passed (it has not been cancelled)."""
