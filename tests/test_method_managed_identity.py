"""``managed_identity``: system- and user-assigned, through azure-identity, against the
emulator's App Service style endpoint and its IMDS style endpoint (both on loopback).
The IMDS address is always a loopback URL here (``service_env``): never 169.254.169.254."""

from __future__ import annotations

import jwt
import pytest
from _service_fixtures import (
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    assert_no_secret_in,
    known_secrets,
    managed_identity_requests,
    service_env_fixture,  # noqa: F401 - fixture
    svc_session_fixture,  # noqa: F401 - fixture
)

import nbauth
from nbauth._methods import managed_identity

STORAGE = "https://storage.azure.com/.default"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_system_assigned_via_app_service_endpoint(emulator, emu_admin, service_env, svc_session):
    mi = emulator["managed_identity"]
    service_env.set(**mi["env"])
    signin = svc_session.login("managed_identity")

    account = signin.account
    assert account.username == "managed identity (system)"
    assert account.method == "managed_identity"
    assert account.client_id == mi["system"]["client_id"]
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    calls = managed_identity_requests(emu_admin)
    assert [(c["endpoint"], c["status"], c["client_id"]) for c in calls] == [
        ("msi", 200, mi["system"]["client_id"])
    ] * 2  # the sign-in's scope, then the SDK client's
    assert_no_secret_in(
        [repr(signin), str(account), repr(svc_session)], known_secrets(emu_admin, emulator)
    )


def test_user_assigned_by_client_id(emulator, emu_admin, service_env, svc_session):
    mi = emulator["managed_identity"]
    user = mi["user_assigned"][0]
    service_env.set(**mi["env"])
    svc_session.login("mi", client_id=user["client_id"])
    assert (
        svc_session.account.username == f"managed identity (user-assigned {user['client_id'][:8]}…)"
    )
    claims = _claims(svc_session.credential().get_token(STORAGE).token)
    assert claims["appid"] == user["client_id"] and claims["oid"] == user["object_id"]


def test_user_assigned_by_resource_id_and_azure_mls_variable(
    emulator, emu_admin, service_env, svc_session
):
    mi = emulator["managed_identity"]
    user = mi["user_assigned"][0]
    service_env.set(**mi["env"])
    svc_session.login("managed_identity", resource_id=user["resource_id"])
    assert svc_session.account.username == "managed identity (user-assigned contoso-data-reader)"
    assert svc_session.account.client_id == user["client_id"]

    service_env.set(DEFAULT_IDENTITY_CLIENT_ID=user["client_id"])  # Azure ML compute
    svc_session.login("managed_identity")
    assert svc_session.account.client_id == user["client_id"]


def test_azure_client_id_is_not_a_managed_identity_here(emulator, service_env, svc_session):
    """AZURE_CLIENT_ID often names a service principal; only the auto chain (as
    DefaultAzureCredential) reads it as a user-assigned identity."""
    service_env.set(**emulator["managed_identity"]["env"])
    service_env.set(AZURE_CLIENT_ID=emulator["service_principal"]["client_id"])
    svc_session.login("managed_identity")
    assert svc_session.account.username == "managed identity (system)"


def test_imds_endpoint(emulator, emu_admin, service_env, svc_session):
    service_env.set(AZURE_POD_IDENTITY_AUTHORITY_HOST=emulator["managed_identity"]["imds_endpoint"])
    svc_session.login("managed_identity")
    assert svc_session.account.username == "managed identity (system)"
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    # The probe (no Metadata header: 400), then the sign-in's token and the SDK client's.
    assert [(c["endpoint"], c["status"]) for c in managed_identity_requests(emu_admin)] == [
        ("imds", 400),
        ("imds", 200),
        ("imds", 200),
    ]


def test_no_endpoint_fails_fast(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("managed_identity")
    assert caught.value.reason.startswith(
        f"no instance metadata service answers at {service_env.imds} (ConnectionRefusedError"
    )
    assert "managed identity turned on" in caught.value.fix
    assert managed_identity_requests(emu_admin) == []


def test_something_else_answering_is_not_taken_for_imds(emulator, service_env, svc_session):
    # The emulator's ARM answers 401 on any path: a server, but not an instance metadata service.
    arm = emulator["arm_endpoint"].rstrip("/")
    assert managed_identity.probe_imds(arm) == (
        f"something answers at {arm} (HTTP 401) but it is not Azure's instance metadata service"
    )
    service_env.set(AZURE_POD_IDENTITY_AUTHORITY_HOST=arm)
    with pytest.raises(nbauth.MethodUnavailable, match="not Azure's instance metadata service"):
        svc_session.login("managed_identity")


def test_unknown_user_assigned_identity(emulator, service_env, svc_session, caplog):
    service_env.set(**emulator["managed_identity"]["env"])
    with (
        caplog.at_level("WARNING"),
        pytest.raises(nbauth.MethodUnavailable, match="No managed identity was found"),
    ):
        svc_session.login("managed_identity", client_id="99999999-0000-4000-8000-000000000000")
    # Said once, by the exception: azure-identity's own warning is held back.
    assert [r for r in caplog.records if r.name.startswith("azure.identity")] == []


def test_wrong_identity_header_is_refused(emulator, emu_admin, service_env, svc_session):
    mi = emulator["managed_identity"]
    service_env.set(IDENTITY_ENDPOINT=mi["endpoint"], IDENTITY_HEADER="not-the-header")
    with pytest.raises(nbauth.MethodUnavailable, match="X-IDENTITY-HEADER"):
        svc_session.login("managed_identity")
    assert [c["status"] for c in managed_identity_requests(emu_admin)] == [401]


def test_one_way_to_name_a_user_assigned_identity(emulator, service_env, svc_session):
    service_env.set(**emulator["managed_identity"]["env"])
    with pytest.raises(nbauth.ConfigurationError, match="one way only"):
        svc_session.login(
            "managed_identity", client_id="99999999-0000-4000-8000-000000000000", object_id="x"
        )


def test_the_emulators_env_points_imds_at_a_dead_loopback_port(emulator):
    """Any process pointed at the emulator learns at once that there is no IMDS, without a
    packet to 169.254.169.254."""
    url = emulator["env"]["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    assert url.startswith("http://127.0.0.1:")
    assert managed_identity.probe_imds(url).startswith(
        f"no instance metadata service answers at {url} (ConnectionRefusedError"
    )
