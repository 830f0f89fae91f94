"""The CLI, the ready file, and the in-process ``Emulator`` API with a custom seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests
from _emulator_process import emulator_command, subprocess_env, wait_for_ready_file

from nbauth.emulator import Emulator

READY_KEYS = {
    "authority_host", "arm_endpoint", "device_login_url", "admin_url", "ca_cert", "ca_bundle",
    "server_cert", "server_key", "users", "tenants", "service_principal", "public_client_ids",
    "env", "pid",
}  # fmt: skip


def test_ready_file_fields(emulator):
    assert READY_KEYS <= set(emulator)
    assert emulator["authority_host"].startswith("https://127.0.0.1:")
    assert emulator["arm_endpoint"].startswith("https://127.0.0.1:") and emulator[
        "arm_endpoint"
    ].endswith("/")
    assert emulator["device_login_url"].startswith("http://127.0.0.1:")
    assert emulator["device_login_url"].endswith("/devicelogin")
    assert emulator["admin_url"].endswith("/admin")
    ca = Path(emulator["ca_cert"]).read_text()
    bundle = Path(emulator["ca_bundle"]).read_text()
    assert ca.strip() in bundle and bundle.count("BEGIN CERTIFICATE") > 1  # system CAs kept
    assert "PRIVATE KEY" in Path(emulator["server_key"]).read_text()
    pem = Path(emulator["service_principal"]["certificate_path"]).read_text()
    assert "PRIVATE KEY" in pem and "BEGIN CERTIFICATE" in pem
    assert "alice@contoso.example" in emulator["users"]
    assert {t["domain"] for t in emulator["tenants"]} == {"contoso.example", "fabrikam.example"}
    assert set(emulator["public_client_ids"]) == {
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "1950a258-227b-4e31-a9cf-717495945fc2",
        "aebc6443-996d-45c2-90f0-388ff96faa56",
    }
    env = emulator["env"]
    assert env["AZURE_AUTHORITY_HOST"] == emulator["authority_host"]
    assert (
        env["REQUESTS_CA_BUNDLE"]
        == env["SSL_CERT_FILE"]
        == env["CURL_CA_BUNDLE"]
        == emulator["ca_bundle"]
    )
    assert env["NBAUTH_ARM_ENDPOINT"] == emulator["arm_endpoint"]
    assert env["NODE_EXTRA_CA_CERTS"] == emulator["ca_cert"]
    assert emulator["pid"] != os.getpid()  # the session emulator is a CLI subprocess


CUSTOM_SEED = {
    "tenants": [{"tenant_id": "0e0e0e0e-0000-4000-8000-000000000001", "domain": "tailspin.example",
                 "display_name": "Tailspin <Toys>"}],
    "users": [{"username": "erin@tailspin.example", "password": "erin-Passw0rd",
               "display_name": "<script>alert(1)</script>", "tenant": "tailspin.example"}],
    "subscriptions": [{"subscription_id": "0e0e0e0e-0000-4000-8000-0000000000a1", "tenant": "tailspin.example",
                       "display_name": "Tailspin Dev", "users": ["erin@tailspin.example"]}],
    "service_principals": [],
    "public_clients": ["04b07795-8ddb-461a-bbee-02f9e1bf7b46"],
}  # fmt: skip


def _isolated_http(info: dict) -> requests.Session:
    """REQUESTS_CA_BUNDLE (the session emulator's) beats verify=, so ignore the environment."""
    http = requests.Session()
    http.trust_env = False
    http.verify = info["ca_bundle"]
    return http


def _auto_approved_sign_in(info: dict) -> dict:
    import msal

    app = msal.PublicClientApplication(
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        authority=f"{info['authority_host']}/organizations",
        instance_discovery=False,
        http_client=_isolated_http(info),
    )
    return app.acquire_token_by_device_flow(
        app.initiate_device_flow(scopes=["https://management.azure.com//.default"])
    )


def test_cli_runs_with_a_seed_file_and_stops_cleanly_on_sigint(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(CUSTOM_SEED))
    ready, log = tmp_path / "ready.json", tmp_path / "log.txt"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            emulator_command(
                "--seed",
                str(seed),
                "--ready-file",
                str(ready),
                "--auto-approve",
                "erin@tailspin.example",
                "--auto-approve-delay",
                "0",
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(),
        )
    try:
        info = wait_for_ready_file(proc, ready, log)
        assert info["users"] == ["erin@tailspin.example"]
        assert info["service_principal"] is None
        assert info["pid"] == proc.pid
        settings = requests.get(f"{info['admin_url']}/settings").json()
        assert settings["auto_approve"] == "erin@tailspin.example"
        result = _auto_approved_sign_in(info)
        assert result["id_token_claims"]["preferred_username"] == "erin@tailspin.example"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0
    output = log.read_text()
    assert info["authority_host"] in output and "erin@tailspin.example" in output
    assert "erin-Passw0rd" not in output
    assert not Path(info["ca_bundle"]).exists()  # temp state dir removed on exit


def test_cli_rejects_a_bad_seed_with_a_message(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tenants": [], "users": []}))
    done = subprocess.run(
        emulator_command("--seed", str(seed)),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "at least one tenant" in done.stderr


def test_in_process_emulator_with_custom_seed(tmp_path):
    import msal

    with Emulator(seed=CUSTOM_SEED, state_dir=tmp_path) as emu:
        info = emu.info
        assert info["authority_host"] in repr(emu)
        emu.admin.settings(device_code_interval_s=1)
        http = _isolated_http(info)
        app = msal.PublicClientApplication(
            "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            authority=f"{info['authority_host']}/tailspin.example",
            instance_discovery=False,
            http_client=http,
        )
        flow = app.initiate_device_flow(scopes=["https://management.azure.com//.default"])
        page = http.post(info["device_login_url"], data={"otc": flow["user_code"]})
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "Tailspin &lt;Toys&gt;" in page.text
        emu.admin.approve("erin@tailspin.example")
        result = app.acquire_token_by_device_flow(flow)
        assert result["id_token_claims"]["tid"] == "0e0e0e0e-0000-4000-8000-000000000001"
        subs = http.get(
            f"{info['arm_endpoint']}subscriptions?api-version=2022-12-01",
            headers={"Authorization": f"Bearer {result['access_token']}"},
        ).json()["value"]
        assert [s["displayName"] for s in subs] == ["Tailspin Dev"]
        authority = info["authority_host"]
    with pytest.raises(RuntimeError, match="not running"):
        emu.info  # noqa: B018
    with pytest.raises(requests.ConnectionError):
        http.get(f"{authority}/organizations/v2.0/.well-known/openid-configuration", timeout=5)


def test_state_dir_keeps_the_ca_across_runs(tmp_path):
    with Emulator(state_dir=tmp_path) as first:
        ca = Path(first.info["ca_cert"]).read_bytes()
    with Emulator(state_dir=tmp_path) as second:
        assert Path(second.info["ca_cert"]).read_bytes() == ca
        assert second.info["ca_cert"] == str(tmp_path / "ca.pem")


def test_unknown_auto_approve_user_is_refused():
    with pytest.raises(ValueError, match="not a seeded user"):
        Emulator(auto_approve="nobody@contoso.example")


def test_a_seed_with_managed_identities_only_starts():
    """No application to offer as ``info["service_principal"]``: managed identities have no
    certificate nor a secret anyone may know."""
    seed = {
        **CUSTOM_SEED,
        "managed_identities": [
            {"kind": "system", "client_id": "7a7a7a7a-0000-4000-8000-000000000001",
             "tenant": "tailspin.example"}
        ],
    }  # fmt: skip
    with Emulator(seed=seed) as emu:
        assert emu.info["service_principal"] is None
        assert emu.info["managed_identity"]
