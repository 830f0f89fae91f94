"""``azure_cli``: sign in as the Azure CLI's account (a fake ``az`` with emulator tokens)."""

from __future__ import annotations

import pytest
from _service_fixtures import (
    ALICE,
    ARM_SCOPE,
    FABRIKAM,
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    assert_no_secret_in,
    install_tool,
    known_secrets,
    service_env_fixture,  # noqa: F401 - fixture
    sp_login,
    svc_session_fixture,  # noqa: F401 - fixture
    token_requests,
    user_login,
)

import nbauth
from nbauth._methods._unavailable import MethodUnavailable


def test_signs_in_as_the_cli_user_and_works_with_an_sdk_client(
    emulator, emu_admin, service_env, svc_session
):
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    signin = svc_session.login("azure_cli")

    assert signin.status == "succeeded" and signin.method == "azure_cli"
    account = svc_session.account
    assert account.username == ALICE and account.method == "azure_cli"
    assert account.name == "Alice Example"
    # The sign-in's scope: its token is reused, az runs once in all.
    assert arm_subscriptions(svc_session.credential(), ARM_SCOPE) == [
        "c0a50001-0000-4000-8000-000000000001",
        "c0a50002-0000-4000-8000-000000000002",
    ]
    assert arm_subscriptions(svc_session.credential(), ARM_SCOPE)
    assert service_env.calls("az") == [
        [
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://management.azure.com/",
        ]
    ]


def test_tenant_is_passed_to_az(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    svc_session.login("azure_cli")
    token = svc_session.credential().get_token(
        "https://management.azure.com/.default", tenant_id=FABRIKAM
    )
    assert token.token
    assert service_env.calls("az")[-1][-2:] == ["--tenant", FABRIKAM]


def test_service_principal_signed_in_to_az(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "az", emulator, sp_login(emulator))
    nbauth_account = svc_session.login("az").account
    sp = emulator["service_principal"]
    assert nbauth_account.username == f"service principal {sp['client_id'][:8]}…"
    assert nbauth_account.client_id == sp["client_id"]
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]


def test_not_installed_fails_fast_saying_what_to_install(service_env, svc_session, emu_admin):
    with pytest.raises(MethodUnavailable) as caught:
        svc_session.login("azure_cli")
    message = str(caught.value)
    assert "the Azure CLI (az) is not installed or not on PATH" in message
    assert "https://aka.ms/installazurecli" in message and "az login" in message
    assert token_requests(emu_admin) == []
    assert svc_session.account is None


def test_not_logged_in_says_run_az_login(emulator, service_env, svc_session):
    install_tool(service_env.bin, "az", emulator, None)
    with pytest.raises(MethodUnavailable) as caught:
        svc_session.login("azure_cli")
    assert "az login" in caught.value.reason
    assert len(service_env.calls("az")) == 1


def test_revoked_cli_sign_in_is_an_entra_error(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    emu_admin.revoke(ALICE)
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login("azure_cli")
    assert caught.value.aadsts == 50173
    assert_no_secret_in([str(caught.value), repr(caught.value)], known_secrets(emu_admin, emulator))


def test_options_are_checked(service_env, svc_session):
    with pytest.raises(nbauth.ConfigurationError, match="does not take password"):
        svc_session.login("azure_cli", password="hunter2-not-echoed")
    try:
        svc_session.login("azure_cli", password="hunter2-not-echoed")
    except nbauth.ConfigurationError as exc:
        assert "hunter2" not in str(exc)


def test_azure_identity_warnings_are_not_repeated(emulator, service_env, svc_session, caplog):
    """The failure is raised with advice; azure-identity's own warning would say it twice."""
    install_tool(service_env.bin, "az", emulator, None)
    with caplog.at_level("WARNING"), pytest.raises(MethodUnavailable):
        svc_session.login("azure_cli")
    assert [r for r in caplog.records if r.name.startswith("azure.identity")] == []
