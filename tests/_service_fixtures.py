"""Fixtures and helpers for the service / developer-tool method tests and the auto chain.

``service_env`` (fixture): an environment with none of the variables any method reads, PATH
holding only an empty directory for fake tools (``service_env.bin``), and the IMDS address
pointed at a closed loopback port, so no test can reach 169.254.169.254 and a managed identity
probe fails at once. Import it into a test module: ``from _service_fixtures import
service_env_fixture``.

``install_tool(bin_dir, name, config)``: a fake ``az`` / ``azd`` / ``pwsh`` that answers like
the real tool (the arguments azure-identity passes, the output it parses) with tokens it gets
from the emulator: a user's refresh token (``user_login``) or a service principal's secret
(``sp_login``). ``config["logged_in"] = False`` answers "not signed in" as the tool does.
Each call appends its arguments (never a token) to ``<bin>/<name>.calls``.

``arm_subscriptions(credential)``: a real azure-core pipeline call to the emulator's
``GET /subscriptions`` with a bearer policy, proving a credential works with an SDK client.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest
import requests

TESTS = Path(__file__).resolve().parent
ALICE = "alice@contoso.example"
ALICE_PASSWORD = "alice-Passw0rd"  # from nbauth/emulator/default_seed.json
CONTOSO = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"
FABRIKAM = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_SCOPE = "https://management.azure.com//.default"
ARM_API_VERSION = "2022-12-01"
PRODUCTION_SUBSCRIPTION = "c0a50001-0000-4000-8000-000000000001"

# Every variable some sign-in method reads: cleared for each test.
METHOD_VARIABLES = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_KUBERNETES_TOKEN_PROXY",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "DEFAULT_IDENTITY_CLIENT_ID",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_AUTH_LOCATION",
)


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceEnv:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, bin_dir: Path, imds: str) -> None:
        self.monkeypatch = monkeypatch
        self.bin = bin_dir
        self.imds = imds

    def set(self, **values: str) -> None:
        for key, value in values.items():
            self.monkeypatch.setenv(key, value)

    def calls(self, tool: str) -> list[list[str]]:
        log = self.bin / f"{tool}.calls"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(name="service_env")
def service_env_fixture(emulator, monkeypatch, tmp_path) -> ServiceEnv:
    for name in METHOD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    imds = f"http://127.0.0.1:{closed_loopback_port()}"
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds)
    return ServiceEnv(monkeypatch, bin_dir, imds)


@pytest.fixture(name="svc_session")
def svc_session_fixture(emulator):
    """A fresh nbauth Session (pointed at the emulator through the environment)."""
    from nbauth._session import Session

    s = Session()
    yield s
    pending = s.pending
    if pending is not None:
        pending.cancel()
    s.close()


# -- fake developer tools -----------------------------------------------------------------------


def user_login(emulator: dict, username: str = ALICE, password: str = ALICE_PASSWORD) -> dict:
    """A fake tool's sign-in as a user: a refresh token from the emulator's password grant
    (what ``az login`` would have stored)."""
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": AZURE_CLI_CLIENT_ID,
            "username": username,
            "password": password,
            "scope": f"{ARM_SCOPE} offline_access openid profile",
        },
        verify=emulator["ca_bundle"],
        timeout=10,
    )
    response.raise_for_status()
    return {"mode": "user", "refresh_token": response.json()["refresh_token"]}


def sp_login(emulator: dict) -> dict:
    """A fake tool's sign-in as the seed service principal (``az login --service-principal``)."""
    sp = emulator["service_principal"]
    return {
        "mode": "sp",
        "client_id": sp["client_id"],
        "client_secret": sp["client_secret"],
        "tenant": sp["tenant_id"],
    }


def install_tool(bin_dir: Path, name: str, emulator: dict, login: dict | None) -> Path:
    """Write the fake `name` (az, azd, pwsh) into `bin_dir`; `login` None: not signed in."""
    config = {
        "authority_host": emulator["authority_host"],
        "ca_bundle": emulator["ca_bundle"],
        "client_id": AZURE_CLI_CLIENT_ID,
        "logged_in": login is not None,
        **(login or {}),
    }
    (bin_dir / f"{name}.json").write_text(json.dumps(config))
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from _fake_azure_tools import main\n"
        f"sys.exit(main({name!r}, sys.argv[1:]))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# -- SDK calls ----------------------------------------------------------------------------------


def arm_subscriptions(
    credential, scope: str = "https://management.azure.com/.default"
) -> list[str]:
    """Subscription IDs from the emulator's ARM through azure-core's bearer token policy."""
    from azure.core.pipeline import Pipeline
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    arm = os.environ["NBAUTH_ARM_ENDPOINT"].rstrip("/")
    pipeline = Pipeline(
        transport=RequestsTransport(), policies=[BearerTokenCredentialPolicy(credential, scope)]
    )
    with pipeline:
        response = pipeline.run(
            HttpRequest("GET", f"{arm}/subscriptions?api-version={ARM_API_VERSION}")
        ).http_response
    assert response.status_code == 200, response.text()
    return sorted(item["subscriptionId"] for item in response.json()["value"])


def token_requests(admin, grant_type: str | None = None) -> list[dict]:
    return [
        r
        for r in admin.requests()
        if r.get("endpoint") == "token"
        and (grant_type is None or r.get("grant_type") == grant_type)
    ]


def managed_identity_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("server") == "managed_identity"]


def known_secrets(admin, emulator: dict) -> list[str]:
    """Everything secret the emulator issued or knows (tokens, secrets, the MI header...)."""
    out = [v for values in admin.issued().values() for v in values if isinstance(v, str) and v]
    out.append(emulator["managed_identity"]["header"])
    return [s for s in out if len(s) >= 8]


def assert_no_secret_in(texts, secrets) -> None:
    secrets = list(secrets)
    assert secrets, "no secrets to look for: the leak check would be vacuous"
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret leaked into output"
