"""Keep secrets out of the logs of the libraries nbauth drives.

msal, azure-identity, azure-core and urllib3 log through the standard `logging` module, and a
notebook user who turns on DEBUG logging (``logging.basicConfig(level=logging.DEBUG)``) sends
their records into the cell's output, which gets saved and committed. Some of those records
carry secrets: msal's token-cache DEBUG events hold the device code, its "Token response is not
in json format" ERROR holds the whole response body (tokens and all; also a huge body, whole),
and azure-core's network trace (``logging_enable=True``) holds bearer tokens and client secrets.

`install` wraps the logging record factory once per process: every record of those libraries
(and of nbauth) is redacted as it is made, before any handler or filter sees it: JWTs and long
token-shaped runs (`nbauth._errors.redact`), values registered with `register_secret` (passwords
and client secrets, which need not look like tokens), and anything beyond `MAX_MESSAGE_CHARS`.
A filter on a logger would not do: it sees only records of that exact logger, and msal alone
logs through dozens. Records are only made when a logger is enabled for their level, so this
costs nothing while logging is off.
"""

from __future__ import annotations

import logging
import threading

from ._base_errors import REDACTED, redact

__all__ = ["MAX_MESSAGE_CHARS", "install", "register_secret", "scrub"]

# ipykernel, its application and `comm` log every widget message at DEBUG: the card's pasted
# address (an authorization code) travels in one.
_PREFIXES = ("msal", "azure", "urllib3", "nbauth", "comm", "ipykernel", "IPKernelApp")
MAX_MESSAGE_CHARS = 10_000
# Known secrets are few (one per sign-in with a secret); the cap bounds a long-lived kernel.
_MAX_KNOWN = 64
_MIN_KNOWN_LEN = 4  # shorter values would redact ordinary words

_lock = threading.Lock()
_known: list[str] = []
_installed = False


def register_secret(value: object) -> None:
    """Redact `value` from every record of the libraries above from now on."""
    if not isinstance(value, str) or len(value) < _MIN_KNOWN_LEN:
        return
    with _lock:
        if value in _known:
            return
        _known.append(value)
        del _known[:-_MAX_KNOWN]
        # Longest first, so a secret that contains another is replaced whole.
        _known.sort(key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` with secrets replaced by ``[redacted]`` and cut to `MAX_MESSAGE_CHARS`."""
    out = redact(text)
    for value in list(_known):
        if value in out:
            out = out.replace(value, REDACTED)
    if len(out) > MAX_MESSAGE_CHARS:
        cut = len(out) - MAX_MESSAGE_CHARS
        out = f"{out[:MAX_MESSAGE_CHARS]}... [{cut} more characters not logged]"
    return out


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _PREFIXES)


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
        return
    clean = scrub(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        # Formatters use exc_text when set: the traceback is formatted (and redacted) here.
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


def install() -> None:
    """Wrap the log record factory (once per process); see the module docstring."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _ours(record.name):
                _scrub_record(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
