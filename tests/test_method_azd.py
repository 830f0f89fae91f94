"""``azd``: sign in as the Azure Developer CLI's account (a fake ``azd`` with emulator tokens)."""

from __future__ import annotations

import pytest
from _service_fixtures import (
    ALICE,
    ARM_SCOPE,
    FABRIKAM,
    arm_subscriptions,
    install_tool,
    service_env_fixture,  # noqa: F401 - fixture
    svc_session_fixture,  # noqa: F401 - fixture
    token_requests,
    user_login,
)

import nbauth


def test_signs_in_and_works_with_an_sdk_client(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "azd", emulator, user_login(emulator))
    signin = nbauth.Session.login(svc_session, "azure-developer-cli")

    assert signin.method == "azd" and svc_session.account.username == ALICE
    assert arm_subscriptions(svc_session.credential(), ARM_SCOPE)
    assert service_env.calls("azd") == [
        ["auth", "token", "--output", "json", "--no-prompt", "--scope", ARM_SCOPE]
    ]


def test_tenant_of_a_token_request_goes_to_azd(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "azd", emulator, user_login(emulator))
    svc_session.login("azd")
    claims = svc_session.credential().get_token_info(
        "https://storage.azure.com/.default", options={"tenant_id": FABRIKAM}
    )
    assert claims.token
    assert service_env.calls("azd")[-1][-2:] == ["--tenant-id", FABRIKAM]


def test_not_installed_fails_fast(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("azd")
    assert "the Azure Developer CLI (azd) is not installed" in str(caught.value)
    assert "azd auth login" in caught.value.fix
    assert token_requests(emu_admin) == []


def test_not_logged_in_says_run_azd_auth_login(emulator, service_env, svc_session):
    install_tool(service_env.bin, "azd", emulator, None)
    with pytest.raises(nbauth.MethodUnavailable, match="azd auth login"):
        svc_session.login("azd")
