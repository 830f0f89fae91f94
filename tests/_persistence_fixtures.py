"""Fixtures and helpers for the persistence tests (tests/test_persistence*.py).

``cache_dir``: a fresh directory for saved sign-ins under pytest's tmp_path (never the real
home), with every NBAUTH_PERSIST* / NBAUTH_CACHE_DIR variable cleared so the machine's
environment cannot change a test. ``persisted``: a factory of Sessions saving there.
``run_child``: runs a Python snippet in a new process (a "restarted kernel") against the
emulator and returns its JSON result.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
from _emulator_process import REPO_ROOT, subprocess_env

TOKEN_CACHE = "token_cache.json"
ACCOUNTS = "accounts.json"

ENV_NAMES = ("NBAUTH_PERSIST", "NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "NBAUTH_CACHE_DIR")


def libsecret_available() -> bool:
    try:
        import gi  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(name="cache_dir")
def cache_dir_fixture(tmp_path, monkeypatch) -> Path:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "nbauth-cache"


@pytest.fixture(name="persisted")
def persisted_fixture(emulator, cache_dir, clock):
    """Factory: a new Session saving to ``cache_dir`` (each one is a "restarted kernel")."""
    from nbauth._session import Session

    made = []

    def make(persistence: str = "read_write", allow_unencrypted: bool = True, **kwargs):
        with warnings.catch_warnings():
            # The plaintext warning has its own test; here it would only be noise.
            warnings.filterwarnings("ignore", message="Sign-ins are saved UNENCRYPTED")
            s = Session(
                clock=clock,
                persistence=persistence,
                allow_unencrypted=allow_unencrypted,
                cache_dir=str(kwargs.pop("cache_dir", cache_dir)),
                **kwargs,
            )
            if s.persistence.value == "read_write":
                s.set_persistence(None)  # opens the cache now, under the filter above
        made.append(s)
        return s

    yield make
    for s in made:
        pending = s.pending
        if pending is not None:
            pending.cancel()
        s.close()


class Approver(threading.Thread):
    """The person at the sign-in page: approves the next code that shows up, as `username`."""

    def __init__(self, admin, username: str = "alice@contoso.example") -> None:
        super().__init__(daemon=True, name="test-approver")
        self.admin, self.username = admin, username
        self.codes: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.codes:
            pending = self.admin.pending()
            if pending:
                code = pending[-1]["user_code"]
                self.admin.approve(self.username, code)
                self.codes.append(code)
                return
            time.sleep(0.05)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def files_other_than_token_cache(directory: Path) -> dict[str, str]:
    """Every file in the cache directory but the token cache itself (and its moved-aside
    copies), as text."""
    out = {}
    for path in directory.iterdir():
        if path.name == TOKEN_CACHE or path.name.startswith(TOKEN_CACHE + ".corrupt-"):
            continue
        if path.is_file():
            out[path.name] = path.read_text(errors="replace")
    return out


def cached_usernames(directory: Path) -> set[str]:
    data = json.loads((directory / TOKEN_CACHE).read_text())
    return {entry["username"] for entry in data.get("Account", {}).values()}


def refresh_token_owners(directory: Path) -> set[str]:
    data = json.loads((directory / TOKEN_CACHE).read_text())
    return {entry["home_account_id"] for entry in data.get("RefreshToken", {}).values()}


CHILD_PRELUDE = """
import json, os, sys, threading, time
from nbauth.emulator import EmulatorAdmin
admin = EmulatorAdmin(os.environ["TEST_ADMIN_URL"])
def emit(**values):
    print("RESULT " + json.dumps(values), flush=True)
"""


def run_child(
    code: str,
    *,
    emulator: dict,
    cache_dir: Path,
    extra_env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.Popen:
    """Start `code` in a new Python process (same emulator, same cache directory)."""
    env = subprocess_env(
        {
            "TEST_ADMIN_URL": emulator["admin_url"],
            "NBAUTH_CACHE_DIR": str(cache_dir),
            **(extra_env or {}),
        }
    )
    for name in ENV_NAMES:
        if name not in (extra_env or {}) and name != "NBAUTH_CACHE_DIR":
            env.pop(name, None)
    script = CHILD_PRELUDE + textwrap.dedent(code)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def child_result(proc: subprocess.Popen, timeout: float = 60) -> tuple[dict, str, str]:
    """Wait for a child; returns (its RESULT dict, stdout, stderr). Fails on a non-zero exit."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child timed out\nstdout:\n{out}\nstderr:\n{err}") from None
    assert proc.returncode == 0, f"child failed ({proc.returncode})\nstdout:\n{out}\nstderr:\n{err}"
    results = [line[len("RESULT ") :] for line in out.splitlines() if line.startswith("RESULT ")]
    assert results, f"child printed no RESULT\nstdout:\n{out}\nstderr:\n{err}"
    return json.loads(results[-1]), out, err
