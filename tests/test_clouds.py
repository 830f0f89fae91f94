"""Clouds: names, sovereign endpoints and scopes, custom clouds (dict, file, `az cloud show`,
emulator ready file), $NBAUTH_CLOUD / $AZURE_AUTHORITY_HOST, and the emulator used as a cloud
end to end (sign-in + Resource Manager) with no emulator variables in the environment."""

from __future__ import annotations

import json
import uuid

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    admin_fixture,
    approving_prompt,
    clock_fixture,
    nbsession_fixture,
)

from nbauth import _clouds
from nbauth._errors import ConfigurationError
from nbauth._session import Session


def unique_host() -> str:
    # The registry is per process: every test gets a host nobody else uses.
    return f"https://login-{uuid.uuid4().hex[:8]}.example"


@pytest.mark.parametrize(
    ("name", "authority", "arm", "graph"),
    [
        ("public", "https://login.microsoftonline.com", "https://management.azure.com/",
         "https://graph.microsoft.com/.default"),
        ("AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com/",
         "https://graph.microsoft.com/.default"),
        ("china", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn/",
         "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("azure_china_cloud", "https://login.chinacloudapi.cn",
         "https://management.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/.default"),
        ("usgov", "https://login.microsoftonline.us", "https://management.usgovcloudapi.net/",
         "https://graph.microsoft.us/.default"),
        ("AzureUSGovernment", "https://login.microsoftonline.us",
         "https://management.usgovcloudapi.net/", "https://graph.microsoft.us/.default"),
    ],
)  # fmt: skip
def test_named_clouds(name, authority, arm, graph):
    cloud = _clouds.resolve_cloud(name)
    assert cloud.authority_host == authority and cloud.arm_endpoint == arm
    assert cloud.arm_scope == arm + "/.default"
    assert cloud.scope("graph") == graph
    assert cloud.scope("arm") == cloud.arm_scope
    assert cloud.scope("storage") == "https://storage.azure.com/.default"
    assert _clouds.cloud_for(authority) is cloud


def test_key_vault_differs_per_cloud():
    scopes = {_clouds.resolve_cloud(n).scope("keyvault") for n in ("public", "china", "usgov")}
    assert scopes == {
        "https://vault.azure.net/.default",
        "https://vault.azure.cn/.default",
        "https://vault.usgovcloudapi.net/.default",
    }


def test_unknown_resource_lists_the_known_ones():
    with pytest.raises(ConfigurationError) as caught:
        _clouds.AZURE_PUBLIC.scope("cosmos")
    assert "arm, storage, graph" in str(caught.value)


def test_unknown_name_says_what_is_accepted():
    with pytest.raises(ConfigurationError) as caught:
        _clouds.resolve_cloud("germany")
    assert "public, china or usgov" in str(caught.value)


def test_custom_cloud_from_a_dict_is_registered_for_its_host():
    host = unique_host()
    cloud = _clouds.resolve_cloud(
        {
            "name": "Contoso Stack",
            "authority_host": host + ":8443",
            "arm_endpoint": "https://management.contoso.example",
            "arm_resource": "https://management.contoso.example/",
            "resources": {"Storage": "https://storage.contoso.example"},
        }
    )
    assert cloud.name == "Contoso Stack"
    assert cloud.arm_endpoint == "https://management.contoso.example/"
    assert cloud.scope("storage") == "https://storage.contoso.example/.default"
    assert _clouds.cloud_for(host + ":8443") is cloud
    assert _clouds.cloud_for(host).name == "Custom"  # another port is another authority


def test_az_cloud_show_output(tmp_path):
    host = unique_host()
    path = tmp_path / "cloud.json"
    path.write_text(
        json.dumps(
            {
                "name": "AzureStackUser",
                "endpoints": {
                    "activeDirectory": host,
                    "resourceManager": "https://management.local.azurestack.external/",
                    "activeDirectoryResourceId": "https://management.contoso.example/abc",
                    "microsoftGraphResourceId": "https://graph.contoso.example/",
                },
                "suffixes": {"storageEndpoint": "local.azurestack.external"},
                "isActive": True,
            }
        )
    )
    cloud = _clouds.resolve_cloud(str(path))
    assert cloud.name == "AzureStackUser" and cloud.authority_host == host
    assert cloud.arm_endpoint == "https://management.local.azurestack.external/"
    assert cloud.arm_scope == "https://management.contoso.example/abc/.default"
    assert cloud.scope("graph") == "https://graph.contoso.example/.default"


def test_emulator_ready_file_is_a_cloud(emulator):
    cloud = _clouds.cloud_from_dict(emulator)
    assert cloud.authority_host == emulator["authority_host"]
    assert cloud.arm_endpoint == emulator["arm_endpoint"]
    assert cloud.arm_scope == "https://management.azure.com//.default"


@pytest.mark.parametrize(
    ("description", "words"),
    [
        ({"authority_host": "https://login.x.example"}, "needs arm_endpoint"),
        ({"arm_endpoint": "https://arm.x.example"}, "needs authority_host"),
        (
            {"authority_host": "https://l.example", "arm_endpoint": "https://a", "tenant": "x"},
            "unknown: tenant",
        ),
        ({"authority_host": "https://l.example", "arm_endpoint": "http://a.example"}, "https"),
        ({"authority_host": "http://l.example", "arm_endpoint": "https://a.example"}, "https"),
        (
            {"authority_host": "https://l.example", "arm_endpoint": "https://a", "resources": []},
            "resources must map",
        ),
    ],
)
def test_bad_descriptions_say_what_is_wrong(description, words):
    with pytest.raises(ConfigurationError) as caught:
        _clouds.resolve_cloud(description)
    assert words in str(caught.value)


def test_bad_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigurationError) as caught:
        _clouds.resolve_cloud(str(missing))
    assert str(missing) in str(caught.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError) as caught:
        _clouds.resolve_cloud(broken)
    assert "not valid JSON" in str(caught.value)


def test_azure_authority_host_is_honoured(monkeypatch):
    monkeypatch.delenv("NBAUTH_CLOUD", raising=False)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.chinacloudapi.cn")
    session = Session()
    assert session.authority_host == "https://login.chinacloudapi.cn"
    assert session.cloud is _clouds.AZURE_CHINA


def test_nbauth_cloud_wins_over_azure_authority_host(monkeypatch, tmp_path):
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.chinacloudapi.cn")
    monkeypatch.setenv("NBAUTH_CLOUD", "usgov")
    assert Session().cloud is _clouds.AZURE_US_GOVERNMENT

    host = unique_host()
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps({"authority_host": host, "arm_endpoint": "https://arm.example"}))
    monkeypatch.setenv("NBAUTH_CLOUD", str(path))
    session = Session()
    assert session.authority_host == host
    assert session.cloud.arm_endpoint == "https://arm.example/"


def test_bad_nbauth_cloud_names_the_variable(monkeypatch):
    monkeypatch.setenv("NBAUTH_CLOUD", "moon")
    with pytest.raises(ConfigurationError) as caught:
        Session().authority_host  # noqa: B018 - the property raises
    assert str(caught.value).startswith("NBAUTH_CLOUD=moon:")


@pytest.fixture
def no_emulator_variables(monkeypatch):
    """Only the cloud description may lead nbauth to the emulator."""
    for name in ("AZURE_AUTHORITY_HOST", "NBAUTH_ARM_ENDPOINT", "NBAUTH_CLOUD"):
        monkeypatch.delenv(name, raising=False)


def test_emulator_as_a_cloud_end_to_end(nbsession, admin, emulator, no_emulator_variables):
    from nbauth._arm import ResourceManagerClient

    assert nbsession.cloud is _clouds.cloud_for(_clouds.AZURE_PUBLIC.authority_host)
    signin = nbsession.login(cloud=emulator["cloud"], prompt=approving_prompt(admin, ALICE))

    assert signin.account.authority == emulator["authority_host"] + "/organizations"
    assert nbsession.cloud.arm_endpoint == emulator["arm_endpoint"]
    with ResourceManagerClient(nbsession) as arm:
        subscriptions = arm.list("/subscriptions")
    assert "c0a50001-0000-4000-8000-000000000001" in {s["subscriptionId"] for s in subscriptions}


def test_nbauth_cloud_pointing_at_a_ready_file(
    nbsession, admin, emulator, no_emulator_variables, monkeypatch, tmp_path
):
    ready = tmp_path / "emu.json"
    ready.write_text(json.dumps(emulator))
    monkeypatch.setenv("NBAUTH_CLOUD", str(ready))
    signin = nbsession.login(prompt=approving_prompt(admin, ALICE))
    assert signin.account.authority.startswith(emulator["authority_host"])


def test_cloud_and_a_different_authority_host_conflict(nbsession, emulator):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(cloud="usgov", authority_host=emulator["authority_host"])
    assert "Pass one of them" in str(caught.value)
