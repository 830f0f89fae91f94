"""Fault injection, the request log and the record of issued secrets.

The admin API's 403 for non-loopback clients cannot be exercised here: the emulator binds
127.0.0.1 only, so every client is loopback.
"""

from __future__ import annotations

import json

import pytest
import requests

from nbauth.emulator import AdminCallError

ARM = "https://management.azure.com//.default"
CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def _password_grant(emulator, password="alice-Passw0rd", **kwargs):
    return requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": CLI,
            "username": "alice@contoso.example",
            "password": password,
            "scope": f"{ARM} openid profile offline_access",
        },
        **kwargs,
    )


def test_status_and_body_replace_the_next_count_responses(emulator, emu_admin):
    emu_admin.fault("token", status=503, body={"error": "temporarily_unavailable"}, count=2)

    statuses = [_password_grant(emulator) for _ in range(3)]
    assert [r.status_code for r in statuses] == [503, 503, 200]
    assert statuses[0].json() == {"error": "temporarily_unavailable"}
    log = [r for r in emu_admin.requests() if r["endpoint"] == "token"]
    assert [(r["status"], r.get("fault", False)) for r in log] == [
        (503, True),
        (503, True),
        (200, False),
    ]
    assert all(r["grant_type"] == "password" and r["client_id"] == CLI for r in log)


def test_text_body_fault(emulator, emu_admin):
    emu_admin.fault("discovery", status=500, body="upstream exploded")
    response = requests.get(
        f"{emulator['authority_host']}/organizations/v2.0/.well-known/openid-configuration"
    )
    assert response.status_code == 500 and response.text == "upstream exploded"


def test_discovery_fault_breaks_msal_app_creation(emulator, emu_admin, msal_app):
    emu_admin.fault("discovery", status=404)
    with pytest.raises(ValueError):
        msal_app()
    assert msal_app() is not None  # only the next call failed


def test_delay_holds_the_response_back(emulator, emu_admin):
    emu_admin.fault("jwks", delay_s=1.5)
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{emulator['authority_host']}/organizations/discovery/v2.0/keys", timeout=0.3)


def test_delay_then_status(emulator, emu_admin):
    emu_admin.fault("userrealm", delay_s=0.05, status=429, body={"error": "throttled"})
    response = requests.get(
        f"{emulator['authority_host']}/common/userrealm/alice@contoso.example?api-version=1.0"
    )
    assert response.status_code == 429


def test_drop_closes_the_connection_without_a_response(emulator, emu_admin):
    emu_admin.fault("token", drop=True)
    with pytest.raises(requests.ConnectionError):
        _password_grant(emulator)
    assert _password_grant(emulator).status_code == 200
    dropped = [r for r in emu_admin.requests() if r["endpoint"] == "token"][0]
    assert dropped["fault"] is True and dropped["status"] is None


def test_drop_surfaces_in_msal_as_a_connection_error(emulator, emu_admin, msal_app):
    app = msal_app()
    emu_admin.fault("devicecode", drop=True)
    with pytest.raises(requests.ConnectionError):
        app.initiate_device_flow(scopes=[ARM])


def test_arm_fault(emulator, emu_admin):
    emu_admin.fault(
        "arm", status=500, body={"error": {"code": "InternalServerError", "message": "boom"}}
    )
    response = requests.get(f"{emulator['arm_endpoint']}subscriptions?api-version=2022-12-01")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalServerError"


def test_bad_fault_specs_are_refused(emulator, emu_admin):
    with pytest.raises(AdminCallError, match="Unknown fault endpoint"):
        emu_admin.fault("nosuch", status=500)
    with pytest.raises(AdminCallError, match="count"):
        emu_admin.fault("token", status=500, count=0)
    with pytest.raises(AdminCallError, match="at least one"):
        emu_admin.fault("token")


def test_reset_clears_faults_settings_and_log(emulator, emu_admin):
    emu_admin.fault("token", status=500, count=5)
    emu_admin.settings(device_code_interval_s=2)
    _password_grant(emulator)
    emu_admin.reset()
    assert emu_admin.requests() == []
    assert emu_admin.settings()["device_code_interval_s"] == 5
    assert _password_grant(emulator).status_code == 200


def test_settings_reject_unknown_keys_and_bad_values(emulator, emu_admin):
    with pytest.raises(AdminCallError, match="Unknown setting"):
        emu_admin.settings(nosuch=1)
    with pytest.raises(AdminCallError, match="device_code_interval_s"):
        emu_admin.settings(device_code_interval_s="fast")
    assert emu_admin.settings(slow_down_polls=2)["slow_down_polls"] == 2


def test_request_log_and_issued_secrets(emulator, emu_admin):
    tokens = _password_grant(emulator).json()
    failed = _password_grant(emulator, password="wrong-password-value")
    assert failed.status_code == 400

    log = emu_admin.requests()
    assert {"time", "method", "path", "endpoint", "grant_type", "client_id", "status"} <= set(
        log[0]
    )
    text = json.dumps(log)
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        "alice-Passw0rd",
        "wrong-password-value",
    ):
        assert secret not in text

    issued = emu_admin.issued()
    assert tokens["access_token"] in issued["access_tokens"]
    assert tokens["refresh_token"] in issued["refresh_tokens"]
    assert tokens["id_token"] in issued["id_tokens"]
    assert emulator["service_principal"]["client_secret"] in issued["client_secrets"]
    assert "alice-Passw0rd" in issued["passwords"]

    emu_admin.clear_requests()
    assert emu_admin.requests() == []
