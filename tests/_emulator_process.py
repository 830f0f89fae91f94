"""Helpers for running the emulator as a real subprocess (used by conftest and the CLI tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def emulator_command(*args: str) -> list[str]:
    """The CLI as a subprocess would run it (``nbauth-emulator`` == ``python -m nbauth.emulator``)."""
    return [sys.executable, "-m", "nbauth.emulator", *args]


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def wait_for_ready_file(proc: subprocess.Popen, path: Path, log: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        if proc.poll() is not None:
            raise RuntimeError(f"nbauth-emulator exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"nbauth-emulator wrote no ready file in {timeout} s:\n{log.read_text()}")


class PortKeepingSession(requests.Session):
    """A requests.Session for msal's ``http_client`` that keeps the emulator's port.

    msal builds its user-realm URL (password grant) from the authority's host name alone
    (``https://127.0.0.1/common/userrealm/...``, msal/authority.py), i.e. port 443. This puts the
    emulator's port back; every request still goes over real HTTP to the emulator.
    """

    def __init__(self, authority_host: str) -> None:
        super().__init__()
        self._authority_host = authority_host.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith("https://127.0.0.1/"):
            url = self._authority_host + url[len("https://127.0.0.1") :]
        return super().request(method, url, *args, **kwargs)
