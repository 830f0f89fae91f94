"""Shared fixtures.

``emulator``: one nbauth emulator for the whole session, started through its CLI as a real
subprocess; its ``env`` is exported into this process so msal / azure-identity trust and reach it.
Yields the ready-file dict (authority_host, arm_endpoint, admin_url, ca_bundle, users, ...).
``emu_admin``: resets the emulator before a test and returns an ``EmulatorAdmin`` client
(approve, decline, expire, revoke, settings, fault, requests, issued, pending, reset).
``msal_app``: factory of msal PublicClientApplications pointed at the emulator.
``device_sign_in``: completes an msal device flow, approved over the admin API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
# Tests run against the working tree, installed or not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

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


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("emulator")
    ready, log = workdir / "ready.json", workdir / "emulator.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            emulator_command("--ready-file", str(ready), "--state-dir", str(workdir / "state")),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
            cwd=REPO_ROOT,
        )
    try:
        info = wait_for_ready_file(proc, ready, log)
        saved = {k: os.environ.get(k) for k in info["env"]}
        os.environ.update(info["env"])
        try:
            yield info
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def emu_admin(emulator):
    from nbauth.emulator import EmulatorAdmin

    admin = EmulatorAdmin(emulator["admin_url"])
    admin.reset()
    return admin


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


@pytest.fixture
def msal_app(emulator):
    """Factory of real msal PublicClientApplications pointed at the emulator."""

    def make(tenant: str = "organizations", client_id: str = AZURE_CLI_CLIENT_ID, **kwargs):
        import msal

        kwargs.setdefault("http_client", PortKeepingSession(emulator["authority_host"]))
        return msal.PublicClientApplication(
            client_id,
            authority=f"{emulator['authority_host']}/{tenant}",
            instance_discovery=False,
            **kwargs,
        )

    return make


@pytest.fixture
def device_sign_in(emu_admin):
    """Sign an msal app in through the device flow, approved over the admin API."""

    def sign_in(app, username: str, scopes=("https://management.azure.com//.default",)) -> dict:
        flow = app.initiate_device_flow(scopes=list(scopes))
        assert "user_code" in flow, flow.get("error_description")
        emu_admin.approve(username, user_code=flow["user_code"])
        result = app.acquire_token_by_device_flow(flow)
        assert "access_token" in result, result.get("error_description")
        return result

    return sign_in
