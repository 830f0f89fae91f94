"""``auth_file``: the JSON of ``az ad sp create-for-rbac --sdk-auth``, from a path,
AZURE_AUTH_LOCATION or a dict; its endpoints honoured, its subscription made current."""

from __future__ import annotations

import json
import os
import warnings

import pytest
from _service_fixtures import (
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    assert_no_secret_in,
    known_secrets,
    service_env_fixture,  # noqa: F401 - fixture
    svc_session_fixture,  # noqa: F401 - fixture
    token_requests,
)

import nbauth


def sdk_auth(emulator, **overrides) -> dict:
    sp = emulator["service_principal"]
    fields = {
        "clientId": sp["client_id"],
        "clientSecret": sp["client_secret"],
        "subscriptionId": PRODUCTION_SUBSCRIPTION,
        "tenantId": sp["tenant_id"],
        "activeDirectoryEndpointUrl": emulator["authority_host"],
        "resourceManagerEndpointUrl": emulator["arm_endpoint"],
        "activeDirectoryGraphResourceId": "https://graph.windows.net/",
        "sqlManagementEndpointUrl": "https://management.core.windows.net:8443/",
        "galleryEndpointUrl": "https://gallery.azure.com/",
        "managementEndpointUrl": "https://management.core.windows.net/",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def write(path, fields, mode=0o600):
    path.write_text(json.dumps(fields, indent=2))
    os.chmod(path, mode)
    return path


def test_path_signs_in_and_selects_the_subscription(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    path = write(tmp_path / "sp.json", sdk_auth(emulator))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a private file: no warning
        signin = svc_session.login("auth_file", auth_file=str(path))

    sp = emulator["service_principal"]
    assert signin.account.method == "auth_file"
    assert signin.account.username == f"service principal {sp['client_id'][:8]}…"
    assert nbauth.subscription_id(svc_session) == PRODUCTION_SUBSCRIPTION
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    assert_no_secret_in([repr(signin), repr(svc_session)], known_secrets(emu_admin, emulator))


def test_azure_auth_location_and_dict(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    path = write(tmp_path / "sp.json", sdk_auth(emulator, subscriptionId=None))
    service_env.set(AZURE_AUTH_LOCATION=str(path))
    svc_session.login("sdk_auth")
    assert svc_session.account.method == "auth_file"
    assert nbauth.subscription_id(svc_session) is None

    svc_session.login("auth_file", auth_file=sdk_auth(emulator))
    assert nbauth.subscription_id(svc_session) == PRODUCTION_SUBSCRIPTION


def test_endpoints_of_the_file_are_honoured(
    emulator, emu_admin, service_env, svc_session, tmp_path, monkeypatch, clean_clouds
):
    """The session's default is another (dead, loopback) authority and no ARM endpoint is
    configured: only the file says where Entra ID and Resource Manager are."""
    from nbauth._session import Session

    monkeypatch.delenv("NBAUTH_ARM_ENDPOINT")
    session = Session(authority_host="https://127.0.0.1:1")
    try:
        path = write(tmp_path / "sp.json", sdk_auth(emulator))
        session.login("auth_file", auth_file=path)
        assert session.account.authority.startswith(emulator["authority_host"] + "/")
        assert session.cloud.arm_endpoint == emulator["arm_endpoint"]
        # managementEndpointUrl is the token audience for the file's Resource Manager.
        assert session.cloud.arm_scope == "https://management.core.windows.net//.default"
        assert nbauth.subscription_id(session) == PRODUCTION_SUBSCRIPTION
    finally:
        session.close()


def test_world_readable_file_warns(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    path = write(tmp_path / "sp.json", sdk_auth(emulator), mode=0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        svc_session.login("auth_file", auth_file=path)
    assert svc_session.account is not None


def test_missing_field_names_file_and_field_never_a_value(
    emulator, service_env, svc_session, tmp_path
):
    fields = sdk_auth(emulator, clientId=None)
    path = write(tmp_path / "sp.json", fields)
    with pytest.raises(nbauth.ConfigurationError) as caught:
        svc_session.login("auth_file", auth_file=path)
    message = str(caught.value)
    assert str(path) in message and "'clientId'" in message
    assert fields["clientSecret"] not in message


def test_invalid_json_never_shows_the_text(service_env, svc_session, tmp_path):
    path = tmp_path / "sp.json"
    path.write_text('{"clientSecret": "half-a-secret-value-1234" ')
    with pytest.raises(nbauth.ConfigurationError) as caught:
        svc_session.login("auth_file", auth_file=path)
    assert "is not valid JSON" in str(caught.value) and str(path) in str(caught.value)
    assert "half-a-secret" not in str(caught.value)


def test_file_that_does_not_exist_and_no_file_at_all(service_env, svc_session, tmp_path, emu_admin):
    with pytest.raises(nbauth.ConfigurationError, match="does not exist"):
        svc_session.login("auth_file", auth_file=tmp_path / "nope.json")
    with pytest.raises(nbauth.MethodUnavailable, match="AZURE_AUTH_LOCATION is not set"):
        svc_session.login("auth_file")
    assert token_requests(emu_admin) == []


def test_subscription_that_is_not_visible_warns_but_keeps_the_sign_in(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    other = "fab00005-0000-4000-8000-000000000005"  # Fabrikam's: not this service principal's
    path = write(tmp_path / "sp.json", sdk_auth(emulator, subscriptionId=other))
    with pytest.warns(UserWarning, match=f"its subscription {other} could not be selected"):
        svc_session.login("auth_file", auth_file=path)
    assert svc_session.account is not None
    assert nbauth.subscription_id(svc_session) is None


def test_certificate_auth_file(
    emulator, emu_admin, service_env, svc_session, tmp_path, clean_clouds
):
    sp = emulator["service_principal"]
    fields = sdk_auth(emulator, clientSecret=None, clientCertificate=sp["certificate_path"])
    svc_session.login("auth_file", auth_file=write(tmp_path / "sp.json", fields))
    assert svc_session.account.client_id == sp["client_id"]
