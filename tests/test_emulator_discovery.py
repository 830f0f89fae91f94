"""OIDC discovery, JWKS and the signatures and claims of issued tokens, checked with PyJWT."""

from __future__ import annotations

import ssl

import jwt
import pytest
import requests

# msal warns that the password grant (used here as the quickest way to a token) is deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")

CONTOSO = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"


def test_discovery_for_a_tenant_id_has_entra_shape(emulator, emu_admin):
    host = emulator["authority_host"]
    doc = requests.get(f"{host}/{CONTOSO}/v2.0/.well-known/openid-configuration").json()

    assert doc["issuer"] == f"{host}/{CONTOSO}/v2.0"
    assert doc["token_endpoint"] == f"{host}/{CONTOSO}/oauth2/v2.0/token"
    assert doc["device_authorization_endpoint"] == f"{host}/{CONTOSO}/oauth2/v2.0/devicecode"
    assert doc["authorization_endpoint"] == f"{host}/{CONTOSO}/oauth2/v2.0/authorize"
    assert doc["jwks_uri"] == f"{host}/{CONTOSO}/discovery/v2.0/keys"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]


def test_discovery_by_domain_answers_with_the_tenant_id(emulator, emu_admin):
    host = emulator["authority_host"]
    doc = requests.get(f"{host}/Contoso.example/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{host}/{CONTOSO}/v2.0"
    assert doc["token_endpoint"] == f"{host}/{CONTOSO}/oauth2/v2.0/token"


@pytest.mark.parametrize("segment", ["organizations", "common"])
def test_multi_tenant_discovery_uses_the_issuer_template(emulator, emu_admin, segment):
    host = emulator["authority_host"]
    doc = requests.get(f"{host}/{segment}/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == f"{host}/{{tenantid}}/v2.0"
    assert doc["token_endpoint"] == f"{host}/{segment}/oauth2/v2.0/token"


def test_unknown_tenant_is_aadsts90002_and_msal_refuses_it(emulator, emu_admin, msal_app):
    host = emulator["authority_host"]
    response = requests.get(f"{host}/nosuch.example/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]
    assert response.json()["error_description"].startswith(
        "AADSTS90002: Tenant 'nosuch.example' not found."
    )
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(tenant="nosuch.example")


def test_jwks_publishes_the_signing_key(emulator, emu_admin):
    keys = requests.get(f"{emulator['authority_host']}/organizations/discovery/v2.0/keys").json()
    (key,) = keys["keys"]
    assert key["kty"] == "RSA" and key["use"] == "sig"
    assert key["kid"] == key["x5t"]
    assert {"n", "e", "x5c"} <= set(key)


def _jwks_client(emulator, tenant: str) -> jwt.PyJWKClient:
    context = ssl.create_default_context(cafile=emulator["ca_bundle"])
    return jwt.PyJWKClient(
        f"{emulator['authority_host']}/{tenant}/discovery/v2.0/keys", ssl_context=context
    )


def test_user_tokens_verify_against_jwks_and_carry_entra_claims(emulator, emu_admin, msal_app):
    app = msal_app()
    result = app.acquire_token_by_username_password(
        "alice@contoso.example", "alice-Passw0rd", scopes=["https://storage.azure.com/.default"]
    )
    assert "access_token" in result, result.get("error_description")
    signing_key = _jwks_client(emulator, "organizations").get_signing_key_from_jwt(
        result["access_token"]
    )

    access = jwt.decode(
        result["access_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience="https://storage.azure.com",
    )
    assert access["iss"] == f"https://sts.windows.net/{CONTOSO}/"
    assert access["tid"] == CONTOSO
    assert access["oid"] == "a11ce000-0000-4000-8000-000000000001"
    assert access["upn"] == access["unique_name"] == "alice@contoso.example"
    assert access["scp"] == "user_impersonation"
    assert access["appid"] == "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    assert access["ver"] == "1.0"
    assert access["nbf"] <= access["iat"] < access["exp"]
    assert jwt.get_unverified_header(result["access_token"])["kid"] == signing_key.key_id

    id_token = jwt.decode(
        result["id_token"],
        signing_key.key,
        algorithms=["RS256"],
        audience="04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        issuer=f"{emulator['authority_host']}/{CONTOSO}/v2.0",
    )
    assert id_token["preferred_username"] == "alice@contoso.example"
    assert id_token["ver"] == "2.0" and id_token["tid"] == CONTOSO
    assert result["id_token_claims"]["oid"] == access["oid"]


def test_arm_scope_maps_to_the_arm_audience(emulator, emu_admin, msal_app):
    result = msal_app().acquire_token_by_username_password(
        "alice@contoso.example", "alice-Passw0rd", scopes=["https://management.azure.com//.default"]
    )
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com/"


def test_token_endpoint_rejects_two_resources_in_one_request(emulator, emu_admin):
    response = requests.post(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "username": "alice@contoso.example",
            "password": "alice-Passw0rd",
            "scope": "https://storage.azure.com/.default https://management.azure.com//.default",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert response.json()["error_codes"] == [28000]
