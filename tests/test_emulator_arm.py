"""The ARM subset: tenants and subscriptions per caller, with ARM's authentication errors."""

from __future__ import annotations

import msal
import pytest
import requests

pytestmark = pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")

API = "api-version=2022-12-01"
ARM = "https://management.azure.com//.default"
CONTOSO = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"
FABRIKAM = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"
PASSWORDS = {
    "alice@contoso.example": "alice-Passw0rd",
    "carol@fabrikam.example": "carol-Passw0rd",
    "dave@contoso.example": "dave-Passw0rd",
}


@pytest.fixture
def user_token(emulator, msal_app):
    def token(username: str, tenant: str = "organizations", scope: str = ARM) -> str:
        result = msal_app(tenant=tenant).acquire_token_by_username_password(
            username, PASSWORDS[username], scopes=[scope]
        )
        assert "access_token" in result, result.get("error_description")
        return result["access_token"]

    return token


def _get(emulator, path: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    separator = "&" if "?" in path else "?"
    return requests.get(f"{emulator['arm_endpoint']}{path}{separator}{API}", headers=headers)


def test_tenants_lists_home_and_guest_tenants(emulator, emu_admin, user_token):
    response = _get(emulator, "tenants", user_token("alice@contoso.example"))
    assert response.status_code == 200
    tenants = response.json()["value"]
    assert sorted(t["tenantId"] for t in tenants) == sorted([CONTOSO, FABRIKAM])
    contoso = next(t for t in tenants if t["tenantId"] == CONTOSO)
    assert contoso == {
        "id": f"/tenants/{CONTOSO}",
        "tenantId": CONTOSO,
        "countryCode": "US",
        "displayName": "Contoso",
        "domains": ["contoso.example"],
        "defaultDomain": "contoso.example",
        "tenantCategory": "Home",
        "tenantType": "AAD",
    }
    carol = _get(emulator, "tenants", user_token("carol@fabrikam.example")).json()["value"]
    assert [t["tenantId"] for t in carol] == [FABRIKAM]


def test_subscriptions_are_those_of_the_token_tenant_the_user_may_see(
    emulator, emu_admin, user_token
):
    home = _get(emulator, "subscriptions", user_token("alice@contoso.example")).json()["value"]
    assert [s["displayName"] for s in home] == ["Contoso Production", "Contoso Data Science"]
    first = home[0]
    assert first["id"] == f"/subscriptions/{first['subscriptionId']}"
    assert first["tenantId"] == CONTOSO and first["state"] == "Enabled"
    assert first["authorizationSource"] == "RoleBased"
    assert set(first["subscriptionPolicies"]) == {"locationPlacementId", "quotaId", "spendingLimit"}

    guest = _get(
        emulator, "subscriptions", user_token("alice@contoso.example", tenant=FABRIKAM)
    ).json()["value"]
    assert [s["displayName"] for s in guest] == ["Fabrikam Analytics"]

    assert _get(emulator, "subscriptions", user_token("dave@contoso.example")).json()["value"] == []


def test_one_subscription_and_its_resource_groups(emulator, emu_admin, user_token):
    token = user_token("alice@contoso.example")
    subscription = "c0a50001-0000-4000-8000-000000000001"
    response = _get(emulator, f"subscriptions/{subscription}", token)
    assert response.json()["displayName"] == "Contoso Production"
    groups = _get(emulator, f"subscriptions/{subscription}/resourcegroups", token).json()["value"]
    assert [g["name"] for g in groups] == ["rg-web", "rg-data"]

    hidden = _get(emulator, "subscriptions/c0a50003-0000-4000-8000-000000000003", token)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "SubscriptionNotFound"


def test_service_principal_sees_its_subscription(emulator, emu_admin):
    sp = emulator["service_principal"]
    app = msal.ConfidentialClientApplication(
        sp["client_id"],
        client_credential=sp["client_secret"],
        authority=f"{emulator['authority_host']}/{sp['tenant_id']}",
        instance_discovery=False,
    )
    token = app.acquire_token_for_client(["https://management.azure.com/.default"])["access_token"]
    assert [s["displayName"] for s in _get(emulator, "subscriptions", token).json()["value"]] == [
        "Contoso Production"
    ]
    assert [t["tenantId"] for t in _get(emulator, "tenants", token).json()["value"]] == [CONTOSO]


def test_missing_token_is_401_with_a_bearer_challenge(emulator, emu_admin):
    response = _get(emulator, "subscriptions")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer authorization_uri="{emulator["authority_host"]}/"')
    assert 'error="invalid_token"' in challenge


def test_bad_tokens_are_401(emulator, emu_admin, user_token):
    garbage = _get(emulator, "subscriptions", "not-a-jwt")
    assert garbage.status_code == 401
    assert garbage.json()["error"]["code"] == "InvalidAuthenticationToken"

    storage = user_token("alice@contoso.example", scope="https://storage.azure.com/.default")
    wrong_audience = _get(emulator, "subscriptions", storage)
    assert wrong_audience.status_code == 401
    assert wrong_audience.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"

    arm = user_token("alice@contoso.example")
    header, payload, signature = arm.split(".")
    tampered = _get(emulator, "subscriptions", f"{header}.{payload}.{signature[::-1]}")
    assert tampered.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_expired_token_is_401(emulator, emu_admin, user_token):
    emu_admin.settings(access_token_lifetime_s=-120)  # already expired beyond PyJWT's leeway
    response = _get(emulator, "subscriptions", user_token("alice@contoso.example"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_missing_api_version_is_400(emulator, emu_admin, user_token):
    token = user_token("alice@contoso.example")
    response = requests.get(
        f"{emulator['arm_endpoint']}subscriptions", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"
