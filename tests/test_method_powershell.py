"""``powershell``: sign in as Azure PowerShell's account (a fake ``pwsh`` with emulator tokens)."""

from __future__ import annotations

import pytest
from _service_fixtures import (
    ALICE,
    FABRIKAM,
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    install_tool,
    service_env_fixture,  # noqa: F401 - fixture
    sp_login,
    svc_session_fixture,  # noqa: F401 - fixture
    token_requests,
    user_login,
)

import nbauth


def test_signs_in_and_works_with_an_sdk_client(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "pwsh", emulator, user_login(emulator))
    signin = svc_session.login("pwsh")

    assert signin.method == "powershell" and svc_session.account.username == ALICE
    assert len(arm_subscriptions(svc_session.credential())) == 2
    # azure-identity runs `pwsh -NoProfile -NonInteractive -EncodedCommand <script>`.
    assert service_env.calls("pwsh")[0] == [
        "-NoProfile",
        "-NonInteractive",
        "-EncodedCommand",
        "<script>",
        "ResourceUrl=https://management.azure.com/",
        "TenantId=",
    ]


def test_tenant_of_a_token_request_goes_to_powershell(
    emulator, emu_admin, service_env, svc_session
):
    install_tool(service_env.bin, "pwsh", emulator, user_login(emulator))
    svc_session.login("powershell")
    token = svc_session.credential().get_token(
        "https://storage.azure.com/.default", tenant_id=FABRIKAM
    )
    assert token.token
    assert service_env.calls("pwsh")[-1][-2:] == [
        "ResourceUrl=https://storage.azure.com",
        f"TenantId={FABRIKAM}",
    ]


def test_service_principal_signed_in_to_powershell(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "pwsh", emulator, sp_login(emulator))
    account = svc_session.login("powershell").account
    assert account.username.startswith("service principal ")
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]


def test_not_installed_fails_fast(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("powershell")
    assert "PowerShell (pwsh) is not installed" in str(caught.value)
    assert "Connect-AzAccount" in caught.value.fix
    assert token_requests(emu_admin) == []


def test_not_connected_says_run_connect_azaccount(emulator, service_env, svc_session):
    install_tool(service_env.bin, "pwsh", emulator, None)
    with pytest.raises(nbauth.MethodUnavailable, match="Connect-AzAccount"):
        svc_session.login("powershell")
