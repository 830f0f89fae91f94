"""The emulator's Key Vault (secrets only): what azure-keyvault-secrets' SecretClient needs, with
Key Vault's challenge and its answers to wrong tokens. Real HTTP, real msal / azure-identity."""

from __future__ import annotations

import asyncio

import pytest
import requests

pytestmark = pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")

API = "api-version=2025-07-01"
VAULT_SCOPE = "https://vault.azure.net/.default"
ARM_SCOPE = "https://management.azure.com//.default"
PASSWORDS = {"alice@contoso.example": "alice-Passw0rd", "carol@fabrikam.example": "carol-Passw0rd"}


@pytest.fixture
def user_token(emulator, msal_app):
    def token(username: str, scope: str = VAULT_SCOPE) -> str:
        result = msal_app().acquire_token_by_username_password(
            username, PASSWORDS[username], scopes=[scope]
        )
        assert "access_token" in result, result.get("error_description")
        return result["access_token"]

    return token


@pytest.fixture
def sp_credential(emulator):
    from azure.identity import ClientSecretCredential

    sp = emulator["service_principal"]
    credential = ClientSecretCredential(
        sp["tenant_id"], sp["client_id"], sp["client_secret"], disable_instance_discovery=True
    )
    yield credential
    credential.close()


def vault_get(emulator, path: str, token: str | None = None, query: str = API):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{emulator['key_vault']['url'].rstrip('/')}{path}" + (f"?{query}" if query else "")
    return requests.get(url, headers=headers, timeout=10)


def test_no_token_gets_key_vaults_challenge(emulator, emu_admin):
    response = vault_get(emulator, "/secrets/notebook-greeting/")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    tenant = emulator["key_vault"]["tenant_id"]
    assert challenge == (
        f'Bearer authorization="{emulator["authority_host"]}/{tenant}", '
        f'resource="https://vault.azure.net"'
    )
    assert response.json()["error"]["code"] == "Unauthorized"


def test_tokens_for_another_audience_or_tenant_are_refused(emulator, emu_admin, user_token):
    arm = vault_get(emulator, "/secrets", user_token("alice@contoso.example", ARM_SCOPE))
    assert arm.status_code == 401 and "AKV10022" in arm.json()["error"]["message"]
    fabrikam = vault_get(emulator, "/secrets", user_token("carol@fabrikam.example"))
    assert fabrikam.status_code == 401 and "AKV10032" in fabrikam.json()["error"]["message"]
    alice = vault_get(emulator, "/secrets", user_token("alice@contoso.example"))
    assert alice.status_code == 200


def test_api_version_is_required(emulator, emu_admin, user_token):
    response = vault_get(emulator, "/secrets", user_token("alice@contoso.example"), query="")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_secret_client_reads_writes_and_lists(emulator, emu_admin, sp_credential):
    from azure.core.exceptions import ResourceNotFoundError
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(
        emulator["key_vault"]["url"], sp_credential, verify_challenge_resource=False
    )
    greeting = client.get_secret("notebook-greeting")
    assert greeting.properties.content_type == "text/plain"
    assert greeting.value in emu_admin.issued()["vault_secrets"]

    first = client.set_secret("test-db-password", "first-value-1", tags={"env": "test"})
    second = client.set_secret("test-db-password", "second-value-2")
    assert first.properties.version != second.properties.version
    assert client.get_secret("test-db-password").value == "second-value-2"
    assert client.get_secret("test-db-password", first.properties.version).value == "first-value-1"
    versions = {p.version for p in client.list_properties_of_secret_versions("test-db-password")}
    assert versions == {first.properties.version, second.properties.version}
    names = {p.name for p in client.list_properties_of_secrets()}
    assert {"notebook-greeting", "test-db-password"} <= names
    assert {"first-value-1", "second-value-2"} <= set(emu_admin.issued()["vault_secrets"])
    with pytest.raises(ResourceNotFoundError, match="SecretNotFound"):
        client.get_secret("test-no-such-secret")


def test_secret_client_refuses_a_loopback_vault_unless_told(emulator, emu_admin, sp_credential):
    """Why the tutorials pass verify_challenge_resource=False: the vault is not *.vault.azure.net."""
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(emulator["key_vault"]["url"], sp_credential)
    with pytest.raises(ValueError, match="verify_challenge_resource=False"):
        client.get_secret("notebook-greeting")


def test_async_secret_client(emulator, emu_admin):
    from azure.identity.aio import ClientSecretCredential
    from azure.keyvault.secrets.aio import SecretClient

    sp = emulator["service_principal"]

    async def read() -> str:
        async with ClientSecretCredential(
            sp["tenant_id"], sp["client_id"], sp["client_secret"], disable_instance_discovery=True
        ) as credential:
            async with SecretClient(
                emulator["key_vault"]["url"], credential, verify_challenge_resource=False
            ) as client:
                return (await client.get_secret("notebook-greeting")).name

    assert asyncio.run(read()) == "notebook-greeting"
    statuses = [r["status"] for r in emu_admin.requests() if r.get("server") == "keyvault"]
    assert statuses == [401, 200]  # the challenge, then the read with a token
