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

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# Tests run against the working tree, installed or not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# A developer's own settings must not steer the suite (or make it write to their real cache):
# every nbauth / Azure identity variable is cleared; fixtures set what a test needs.
for _name in list(os.environ):
    if _name.startswith(("NBAUTH_", "AZURE_", "IDENTITY_", "MSI_")):
        del os.environ[_name]
# Belt and braces: whatever a test does, azure-identity's managed identity probe goes to a closed
# loopback port, never to the instance metadata address 169.254.169.254.
os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"

from _emulator_process import (  # noqa: E402 - after the sys.path line above
    AZURE_CLI_CLIENT_ID,
    PortKeepingSession,
    emulator_command,
    subprocess_env,
    wait_for_ready_file,
)


@pytest.fixture(autouse=True)
def clean_clouds(monkeypatch):
    """Clouds a test registers (an auth file's endpoints, a custom cloud) stay in that test:
    the registry is process-wide, so every test starts from the one nbauth starts with."""
    from nbauth import _clouds

    monkeypatch.setattr(_clouds, "_registered", dict(_clouds._registered))


@pytest.fixture
def shell():
    """The process's IPython shell: magics tests run through it, as a notebook would."""
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


@pytest.fixture
def magics(shell, nbsession):
    """LoginMagics over the test's fresh Session (its module's ``nbsession`` fixture),
    registered in the shell. Modules testing other magics define their own ``magics``."""
    from nbauth._magics import LoginMagics

    instance = LoginMagics(shell=shell, session=nbsession)
    shell.register_magics(instance)
    yield instance
    shell.user_ns.pop("credential", None)


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
