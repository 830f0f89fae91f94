"""Password, refresh-token and client-credentials grants, and Entra's error shape."""

from __future__ import annotations

import re

import jwt
import msal
import pytest
import requests

# msal warns that the password grant is deprecated; it is the quickest way to a user token here.
pytestmark = pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")

ARM = "https://management.azure.com//.default"
STORAGE = "https://storage.azure.com/.default"
CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
CONTOSO = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"
FABRIKAM = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_password_grant_signs_in(emulator, emu_admin, msal_app):
    app = msal_app()
    result = app.acquire_token_by_username_password(
        "alice@contoso.example", "alice-Passw0rd", scopes=[ARM]
    )
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert app.get_accounts()[0]["home_account_id"] == (
        f"a11ce000-0000-4000-8000-000000000001.{CONTOSO}"  # from client_info
    )
    assert any(r["path"].startswith("/common/userrealm/") for r in emu_admin.requests())


def test_wrong_password_is_aadsts50126(emulator, emu_admin, msal_app):
    result = msal_app().acquire_token_by_username_password(
        "alice@contoso.example", "nope", scopes=[ARM]
    )
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50126]


def test_mfa_user_gets_interaction_required_aadsts50076(emulator, emu_admin, msal_app):
    result = msal_app().acquire_token_by_username_password(
        "bob@contoso.example", "bob-Passw0rd", scopes=[ARM]
    )
    assert result["error"] == "interaction_required"
    assert result["error_codes"] == [50076]
    assert result["suberror"] == "basic_action"


def test_unknown_user_is_aadsts50034(emulator, emu_admin, msal_app):
    result = msal_app().acquire_token_by_username_password("zed@contoso.example", "x", scopes=[ARM])
    assert result["error_codes"] == [50034]


def test_settings_change_access_token_lifetime(emulator, emu_admin, msal_app):
    emu_admin.settings(access_token_lifetime_s=600, refresh_in_s=300)
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": CLI,
            "username": "alice@contoso.example",
            "password": "alice-Passw0rd",
            "scope": f"{ARM} openid offline_access profile",
        },
    )
    result = response.json()
    assert result["expires_in"] == result["ext_expires_in"] == 600
    assert result["refresh_in"] == 300
    assert result["scope"] == ARM
    assert {"refresh_token", "id_token"} <= set(result)
    assert "client_info" not in result  # only when the request asks with client_info=1
    claims = _claims(result["access_token"])
    assert claims["exp"] - claims["iat"] == 600


def test_refresh_after_revoke_fails_with_aadsts50173(emulator, emu_admin, msal_app):
    app = msal_app()
    app.acquire_token_by_username_password("alice@contoso.example", "alice-Passw0rd", scopes=[ARM])
    (account,) = app.get_accounts()
    assert emu_admin.revoke("alice@contoso.example")["revoked"] >= 1

    result = app.acquire_token_silent_with_error([STORAGE], account=account)
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50173]
    assert result["suberror"] == "bad_token"

    # A fresh sign-in after the revocation works again.
    fresh = app.acquire_token_by_username_password(
        "alice@contoso.example", "alice-Passw0rd", scopes=[STORAGE]
    )
    assert "access_token" in fresh


def test_refresh_token_works_in_a_guest_tenant(emulator, emu_admin, msal_app):
    home = msal_app()
    home.acquire_token_by_username_password("alice@contoso.example", "alice-Passw0rd", scopes=[ARM])
    guest = msal_app(tenant=FABRIKAM, token_cache=home.token_cache)
    (account,) = guest.get_accounts()

    result = guest.acquire_token_silent_with_error([ARM], account=account)
    assert "access_token" in result, result
    claims = _claims(result["access_token"])
    assert claims["tid"] == FABRIKAM
    assert claims["oid"] == "a11ce000-0000-4000-8000-0000000000f1"
    assert claims["idp"] == f"https://sts.windows.net/{CONTOSO}/"
    assert "upn" not in claims


def test_refresh_token_in_a_foreign_tenant_is_aadsts50020(emulator, emu_admin, msal_app):
    home = msal_app()
    home.acquire_token_by_username_password("dave@contoso.example", "dave-Passw0rd", scopes=[ARM])
    foreign = msal_app(tenant="fabrikam.example", token_cache=home.token_cache)
    (account,) = foreign.get_accounts()
    result = foreign.acquire_token_silent_with_error([ARM], account=account)
    assert result["error_codes"] == [50020]
    assert "does not exist in tenant 'Fabrikam'" in result["error_description"]


def test_unknown_public_client_is_aadsts700016(emulator, emu_admin, msal_app):
    flow = msal_app(client_id="00000000-1111-2222-3333-444444444444").initiate_device_flow(
        scopes=[ARM]
    )
    assert flow["error"] == "unauthorized_client"
    assert flow["error_codes"] == [700016]


def test_error_response_has_every_entra_field(emulator, emu_admin):
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={"client_id": CLI, "scope": ARM},
        headers={"client-request-id": "7d1e2f00-0000-4000-8000-00000000c0de"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [900144]
    # Entra puts the trace lines after "\r\n" (every body quoted in Azure/azure-cli#14244).
    assert re.fullmatch(
        r"AADSTS900144: The request body must contain the following parameter: 'grant_type'\.\r\n"
        r"Trace ID: [0-9a-f-]{36}\r\nCorrelation ID: 7d1e2f00-0000-4000-8000-00000000c0de\r\n"
        r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ",
        body["error_description"],
    )
    assert body["correlation_id"] == "7d1e2f00-0000-4000-8000-00000000c0de"
    assert body["trace_id"] in body["error_description"]
    assert body["timestamp"] in body["error_description"]
    assert body["error_uri"].endswith("/error?code=900144")
    assert response.headers["client-request-id"] == "7d1e2f00-0000-4000-8000-00000000c0de"


def test_unsupported_grant_type_is_aadsts70003(emulator, emu_admin):
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={"client_id": CLI, "grant_type": "urn:example:nonsense"},
    )
    assert response.json()["error"] == "unsupported_grant_type"
    assert response.json()["error_codes"] == [70003]


def _confidential(
    emulator, secret: str, client_id: str | None = None
) -> msal.ConfidentialClientApplication:
    sp = emulator["service_principal"]
    return msal.ConfidentialClientApplication(
        client_id or sp["client_id"],
        client_credential=secret,
        authority=f"{emulator['authority_host']}/{sp['tenant_id']}",
        instance_discovery=False,
    )


def test_client_credentials_issue_an_app_token_with_roles(emulator, emu_admin):
    sp = emulator["service_principal"]
    result = _confidential(emulator, sp["client_secret"]).acquire_token_for_client([STORAGE])
    assert "access_token" in result, result.get("error_description")
    assert "refresh_token" not in result and "id_token" not in result
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://storage.azure.com"
    assert claims["appid"] == sp["client_id"]
    assert claims["roles"] == ["Storage.ReadWrite"]
    assert claims["idtyp"] == "app" and claims["appidacr"] == "1"
    assert "scp" not in claims
    assert [r["grant_type"] for r in emu_admin.requests() if r["endpoint"] == "token"] == [
        "client_credentials"
    ]


def test_wrong_client_secret_is_aadsts7000215(emulator, emu_admin):
    result = _confidential(emulator, "not-the-secret").acquire_token_for_client([STORAGE])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]


def test_unknown_confidential_client_is_aadsts700016(emulator, emu_admin):
    result = _confidential(
        emulator, "x", client_id="99999999-0000-4000-8000-000000000000"
    ).acquire_token_for_client([STORAGE])
    assert result["error_codes"] == [700016]


def test_client_credentials_need_a_default_scope(emulator, emu_admin):
    sp = emulator["service_principal"]
    response = requests.post(
        f"{emulator['authority_host']}/{sp['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sp["client_id"],
            "client_secret": sp["client_secret"],
            "scope": "https://storage.azure.com/user_impersonation",
        },
    )
    assert response.json()["error"] == "invalid_scope"
    assert response.json()["error_codes"] == [1002012]


def test_client_secret_basic_authentication_is_accepted(emulator, emu_admin):
    sp = emulator["service_principal"]
    response = requests.post(
        f"{emulator['authority_host']}/{sp['tenant_id']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": STORAGE},
        auth=(sp["client_id"], sp["client_secret"]),
    )
    assert response.status_code == 200
    assert _claims(response.json()["access_token"])["appid"] == sp["client_id"]
