"""The device authorization grant, driven by real msal and approved over the admin API."""

from __future__ import annotations

import re

import jwt
import pytest
import requests

from nbauth.emulator import AdminCallError

ARM = "https://management.azure.com//.default"
STORAGE = "https://storage.azure.com/.default"
FABRIKAM = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"


def _token_requests(emu_admin) -> list[dict]:
    return [r for r in emu_admin.requests() if r["endpoint"] == "token"]


def test_device_code_response_looks_like_entra(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    flow = msal_app().initiate_device_flow(scopes=[ARM])

    assert re.fullmatch(r"[A-Z0-9]{9}", flow["user_code"])
    assert flow["verification_uri"] == emulator["device_login_url"]
    assert flow["expires_in"] == 900 and flow["interval"] == 1
    assert flow["message"] == (
        f"To sign in, use a web browser to open the page {emulator['device_login_url']} "
        f"and enter the code {flow['user_code']} to authenticate."
    )
    pending = emu_admin.pending()
    assert [p["user_code"] for p in pending] == [flow["user_code"]]
    assert "device_code" not in pending[0]
    assert flow["device_code"] in emu_admin.issued()["device_codes"]


def test_device_flow_then_silent_new_scope_uses_the_refresh_token(
    emulator, emu_admin, msal_app, device_sign_in
):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app()
    result = device_sign_in(app, "alice@contoso.example", scopes=[ARM])

    assert jwt.decode(result["access_token"], options={"verify_signature": False})["aud"] == (
        "https://management.azure.com/"
    )
    assert result["id_token_claims"]["preferred_username"] == "alice@contoso.example"
    (account,) = app.get_accounts()
    assert account["username"] == "alice@contoso.example"

    emu_admin.clear_requests()
    storage = app.acquire_token_silent([STORAGE], account=account)
    assert storage["token_source"] == "identity_provider"
    assert jwt.decode(storage["access_token"], options={"verify_signature": False})["aud"] == (
        "https://storage.azure.com"
    )
    assert [r["grant_type"] for r in _token_requests(emu_admin)] == ["refresh_token"]
    assert storage["refresh_token"] != result["refresh_token"]  # rotated

    again = app.acquire_token_silent([ARM], account=account)
    assert again["token_source"] == "cache"
    assert len(_token_requests(emu_admin)) == 1


def test_declined_sign_in_is_returned_by_msal(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    emu_admin.decline(flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "authorization_declined"
    assert result["error_codes"] == [70000]


def test_expired_code_is_returned_by_msal(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    emu_admin.expire(flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "expired_token"
    assert result["error_codes"] == [70020]
    assert emu_admin.pending() == []


def test_polling_sooner_than_the_interval_gets_slow_down(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=5)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    once = {"exit_condition": lambda flow: True}  # one poll per call, no sleeping

    first = app.acquire_token_by_device_flow(flow, **once)
    assert first["error"] == "authorization_pending"
    assert first["error_codes"] == [70016]
    with pytest.warns(UserWarning, match="Attempted too soon"):
        second = app.acquire_token_by_device_flow(flow, **once)
    assert second["error"] == "slow_down"
    assert flow["interval"] == 10  # msal backs off by 5 s, as RFC 8628 asks


def test_slow_down_polls_setting_forces_slow_down(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1, slow_down_polls=1)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    emu_admin.approve("alice@contoso.example", flow["user_code"])
    result = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert result["error"] == "slow_down"
    assert flow["interval"] == 6


def test_auto_approve_setting_signs_in_without_admin_calls(emulator, emu_admin, msal_app):
    emu_admin.settings(
        device_code_interval_s=1, auto_approve="carol@fabrikam.example", auto_approve_delay_s=0
    )
    app = msal_app()
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=[ARM]))
    assert result["id_token_claims"]["preferred_username"] == "carol@fabrikam.example"
    assert result["id_token_claims"]["tid"] == FABRIKAM


def test_code_for_a_tenant_signs_in_there(emulator, emu_admin, msal_app, device_sign_in):
    emu_admin.settings(device_code_interval_s=1)
    result = device_sign_in(msal_app(tenant="fabrikam.example"), "alice@contoso.example")
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["tid"] == FABRIKAM
    assert claims["oid"] == "a11ce000-0000-4000-8000-0000000000f1"  # alice's guest object


def test_admin_approve_errors_say_what_is_wrong(emulator, emu_admin, msal_app):
    with pytest.raises(AdminCallError) as none_pending:
        emu_admin.approve("alice@contoso.example")
    assert none_pending.value.status == 409

    flow = msal_app(tenant="fabrikam.example").initiate_device_flow(scopes=[ARM])
    with pytest.raises(AdminCallError) as unknown:
        emu_admin.approve("mallory@contoso.example")
    assert unknown.value.status == 404 and "alice@contoso.example" in unknown.value.message
    with pytest.raises(AdminCallError) as outsider:
        emu_admin.approve("bob@contoso.example", flow["user_code"])
    assert outsider.value.status == 403 and "Fabrikam" in outsider.value.message
    with pytest.raises(AdminCallError) as wrong_code:
        emu_admin.approve("alice@contoso.example", "NOSUCHCOD")
    assert wrong_code.value.status == 404

    assert emu_admin.approve("alice@contoso.example")["user_code"] == flow["user_code"]


def test_redeemed_device_code_cannot_be_used_twice(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    emu_admin.approve("alice@contoso.example", flow["user_code"])
    assert "access_token" in app.acquire_token_by_device_flow(flow)
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "device_code": flow["device_code"],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("approve", {"username": 5}),
        ("decline", {"user_code": 7}),
        ("revoke", {"username": ["alice@contoso.example"]}),
        ("settings", {"auto_approve": 3}),
    ],
)
def test_admin_fields_of_the_wrong_type_are_a_400_not_a_crash(emu_admin, path, body):
    with pytest.raises(AdminCallError) as refused:
        emu_admin.call("POST", path, body)
    assert refused.value.status == 400
    assert "must be a string" in refused.value.message
