"""The VS Code method: azure-identity 1.27's VisualStudioCodeCredential works only on Windows or
WSL with azure-identity-broker and a VS Code Azure sign-in; each missing piece is named."""

from __future__ import annotations

import json
import os

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
)

from nbauth._errors import ConfigurationError
from nbauth._methods import vscode
from nbauth._methods._unavailable import MethodUnavailable

WSL2 = "Linux version 5.15.153.1-microsoft-standard-WSL2"


@pytest.fixture
def signed_in_home(tmp_path):
    record = tmp_path / ".azure" / "ms-azuretools.vscode-azureresourcegroups" / "authRecord.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"username": "alice@contoso.example"}))
    return str(tmp_path)


def test_windows_with_package_and_sign_in_is_available(signed_in_home):
    assert vscode.unavailable_on(platform="win32", version="1.2.0", home=signed_in_home) is None


def test_wsl_is_available_too(signed_in_home):
    assert (
        vscode.unavailable_on(
            platform="linux", version="1.3.0", home=signed_in_home, proc_version=WSL2
        )
        is None
    )


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_other_platforms_name_the_alternatives(platform, signed_in_home):
    missing = vscode.unavailable_on(platform=platform, version="1.3.0", home=signed_in_home)
    assert f"only on Windows or WSL, not on {platform}" in missing.reason
    assert "azure_cli" in missing.fix


def test_missing_broker_package_says_what_to_install(signed_in_home):
    missing = vscode.unavailable_on(platform="win32", version=None, home=signed_in_home)
    assert "azure-identity-broker package is not installed" in missing.reason
    assert "pip install azure-identity-broker" in missing.fix


def test_no_vscode_sign_in_says_how_to_sign_in(tmp_path):
    missing = vscode.unavailable_on(platform="win32", version="1.2.0", home=str(tmp_path))
    assert "VS Code has not signed in to Azure" in missing.reason
    assert "Azure: Sign In" in missing.fix


def test_the_record_paths_are_the_ones_azure_identity_reads():
    from azure.identity._credentials.vscode import VSCODE_AUTH_RECORD_PATHS

    assert tuple(VSCODE_AUTH_RECORD_PATHS) == vscode.AUTH_RECORD_PATHS


def test_login_fails_fast_here_with_the_reason(nbsession, admin):
    assert os.name != "nt"  # the test machines are Linux
    with pytest.raises(MethodUnavailable) as caught:
        nbsession.login("vscode")
    assert caught.value.method == "vscode"
    assert "not available here" in str(caught.value) and "Windows or WSL" in caught.value.reason
    assert vscode.unavailable(None) is not None
    assert admin.requests() == []


@pytest.mark.parametrize("alias", ["visual_studio_code", "VS_Code"])
def test_aliases(nbsession, alias):
    with pytest.raises(MethodUnavailable):
        nbsession.login(alias)


def test_takes_no_options(nbsession):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login("vscode", tenant_hint="x")
    assert "tenant_hint" in str(caught.value)
