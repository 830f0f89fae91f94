"""Fixtures and helpers shared by the session / credential / device-code tests.

Import the fixtures into a test module (``from _core_fixtures import admin_fixture, ...``):
pytest finds them there under their short names (``admin``, ``clock``, ``nbsession``). Every test
gets a fresh `Session` so tests share no state; the emulator (conftest's ``emulator``) is real.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterable

import pytest

ALICE = "alice@contoso.example"  # member of Contoso, guest in Fabrikam
BOB = "bob@contoso.example"  # member of Contoso only
CONTOSO = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"
FABRIKAM = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"
ARM_SCOPE = "https://management.azure.com//.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class MovableClock:
    """A clock that runs with real time plus an offset tests can advance (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(name="admin")
def admin_fixture(emulator, emu_admin):
    """The admin client, with a 1 s device-code interval so sign-ins are quick."""
    emu_admin.settings(device_code_interval_s=1)
    return emu_admin


@pytest.fixture(name="clock")
def clock_fixture() -> MovableClock:
    return MovableClock()


@pytest.fixture(name="nbsession")
def nbsession_fixture(emulator, clock):
    """A fresh Session on the movable clock, pointed at the emulator through the environment."""
    from nbauth._session import Session

    s = Session(clock=clock)
    yield s
    pending = s.pending
    if pending is not None:
        pending.cancel()
    s.close()


def approving_prompt(admin, username: str = ALICE, *, in_thread: bool = False) -> Callable:
    """A prompt callback that approves the shown code as `username` through the admin API.

    Approving inside the callback (before polling starts) makes the first poll succeed;
    ``in_thread`` approves from another thread while the poller runs, like a person would.
    """

    def prompt(p) -> None:
        if in_thread:
            threading.Thread(
                target=admin.approve, args=(username, p.user_code), name="test-approver"
            ).start()
        else:
            admin.approve(username, p.user_code)

    return prompt


def sign_in(session, admin, username: str = ALICE, **kwargs):
    """Sign `username` in through a real device-code flow; returns the finished SignIn."""
    return session.login(prompt=approving_prompt(admin, username), **kwargs)


def token_requests(admin, grant_type: str | None = None) -> list[dict]:
    """The token endpoint calls the emulator served (optionally of one grant type)."""
    return [
        r
        for r in admin.requests()
        if r.get("endpoint") == "token"
        and (grant_type is None or r.get("grant_type") == grant_type)
    ]


def jwt_claims(token: str) -> dict:
    """A JWT's payload, unverified: only to read claims such as tid."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def issued_secrets(admin) -> list[str]:
    """Every secret the emulator issued or knows (tokens, refresh tokens, device codes...)."""
    issued = admin.issued()
    secrets: list[str] = []
    for values in issued.values():
        secrets.extend(v for v in values if isinstance(v, str) and v)
    return secrets


def assert_no_secret_in(texts: Iterable[str], secrets: Iterable[str]) -> None:
    secrets = [s for s in secrets if len(s) >= 8]
    assert secrets, "the emulator reported no issued secrets; the leak check would be vacuous"
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret issued by the emulator leaked into output"


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nbauth-device-code")]


def wait_until_faults_logged(admin, count: int = 1, timeout: float = 5.0) -> None:
    """Wait until `count` faulted requests are in the emulator's log.

    The emulator logs a dropped request just after dropping it, so a client can see the drop
    before the log does (requested fix in /tmp/coord/emulator-requests.md).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for r in admin.requests() if r.get("fault")) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the emulator logged fewer than {count} faulted requests")
