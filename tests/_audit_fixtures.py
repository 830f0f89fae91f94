"""Helpers for the leak audit and the fault suite (tests/test_leaks.py, test_faults_*.py,
test_security_*.py).

The emulator's ``GET /admin/issued`` lists every secret it issued or knows (access, refresh and
ID tokens, device codes, authorization codes, client secrets, passwords): those are the canaries.
`leaked_kinds` searches texts for each one whole, and for slices of the long ones, because
IPython shortens long values in ``%xmode Verbose`` tracebacks to their two ends. Failures name
the kind of secret and where, never the secret.

``debug_log``: every log record of every logger at DEBUG, formatted with exception text, for the
duration of a test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest

# The loggers the issue names; their levels are lowered for the test, then restored.
AUDITED_LOGGERS = ("nbauth", "msal", "azure", "urllib3")


def canaries(admin) -> dict[str, list[str]]:
    """kind -> issued secret values (only those long enough to search for)."""
    issued = admin.issued()
    return {
        kind: [v for v in values if isinstance(v, str) and len(v) >= 8]
        for kind, values in issued.items()
    }


def _fragments(secret: str) -> list[str]:
    out = [secret]
    if len(secret) >= 60:
        # IPython's Verbose tracebacks keep about 48 characters at each end of a long repr.
        out += [secret[8:32], secret[-28:-4]]
    return out


def leaked_kinds(texts: Iterable[str] | str, admin, *, secrets=None) -> list[str]:
    """Kinds of issued secrets found in `texts` (empty: no leak). Never returns a secret."""
    if isinstance(texts, str):
        texts = [texts]
    blob = "\n".join(texts)
    found = []
    for kind, values in (secrets or canaries(admin)).items():
        for value in values:
            if any(fragment in blob for fragment in _fragments(value)):
                found.append(kind)
                break
    return sorted(found)


def assert_no_leak(texts: Iterable[str] | str, admin, where: str, *, kinds_expected=()) -> None:
    """No issued secret in `texts`; `kinds_expected` must have been issued (the check would be
    vacuous otherwise)."""
    secrets = canaries(admin)
    for kind in kinds_expected:
        assert secrets.get(kind), f"the emulator issued no {kind}: the leak check is vacuous"
    leaked = leaked_kinds(texts, admin, secrets=secrets)
    assert leaked == [], f"issued secrets ({', '.join(leaked)}) leaked into {where}"


class RecordingHandler(logging.Handler):
    """Keeps every record formatted as a handler would write it (message + exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def names(self) -> set[str]:
        return {r.name for r in self.records}


@contextmanager
def recording_debug_logs() -> Iterator[RecordingHandler]:
    """Every record of every logger at DEBUG, on a handler on the root logger."""
    handler = RecordingHandler()
    root = logging.getLogger()
    saved_root = root.level
    saved = {name: logging.getLogger(name).level for name in AUDITED_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in AUDITED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(name="debug_log")
def debug_log_fixture():
    with recording_debug_logs() as handler:
        yield handler


def token_calls(admin, grant_type: str | None = None) -> list[dict]:
    return [
        r
        for r in admin.requests()
        if r.get("endpoint") == "token"
        and (grant_type is None or r.get("grant_type") == grant_type)
    ]


def device_code_polls(admin) -> list[dict]:
    return token_calls(admin, "urn:ietf:params:oauth:grant-type:device_code")
