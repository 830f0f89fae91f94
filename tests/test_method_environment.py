"""``environment``: the service principal of AZURE_TENANT_ID / AZURE_CLIENT_ID /
AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH."""

from __future__ import annotations

import pickle

import jwt
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

STORAGE = "https://storage.azure.com/.default"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_client_secret_from_the_environment(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    signin = svc_session.login("env")

    account = signin.account
    assert signin.method == "environment" and account.method == "environment"
    assert account.username == f"service principal {sp['client_id'][:8]}…"
    assert account.tenant_id == sp["tenant_id"] and account.client_id == sp["client_id"]
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    assert [(r["grant_type"], r["client_id"]) for r in token_requests(emu_admin)] == [
        ("client_credentials", sp["client_id"])
    ] * 2  # the sign-in's scope, then the SDK client's
    texts = [repr(signin), repr(account), str(account), repr(svc_session)]
    assert_no_secret_in(texts, known_secrets(emu_admin, emulator))


def test_certificate_from_the_environment(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_CERTIFICATE_PATH=sp["certificate_path"],
    )
    svc_session.login("environment")
    claims = _claims(svc_session.credential().get_token(STORAGE).token)
    assert claims["appid"] == sp["client_id"] and claims["appidacr"] == "2"


def test_partial_set_names_the_missing_variables_not_the_values(service_env, svc_session):
    service_env.set(AZURE_CLIENT_ID="11111111-2222-4333-8444-555555555555")
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("environment")
    message = str(caught.value)
    assert (
        "AZURE_CLIENT_ID is set but AZURE_TENANT_ID, AZURE_CLIENT_SECRET (or "
        "AZURE_CLIENT_CERTIFICATE_PATH) are missing" in message
    )
    assert "11111111" not in message


def test_a_secret_alone_is_named_never_shown(service_env, svc_session):
    service_env.set(AZURE_CLIENT_SECRET="s3cret-value-that-must-not-show")
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("environment")
    assert "AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID, AZURE_CLIENT_ID are missing" in str(
        caught.value
    )
    assert "s3cret" not in str(caught.value) and "s3cret" not in repr(caught.value)


def test_nothing_set(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("environment")
    assert caught.value.reason.startswith("none of AZURE_TENANT_ID, AZURE_CLIENT_ID")
    assert "AZURE_CLIENT_SECRET" in caught.value.fix
    assert token_requests(emu_admin) == []


def test_missing_certificate_file(service_env, svc_session, tmp_path):
    service_env.set(
        AZURE_TENANT_ID="contoso.example",
        AZURE_CLIENT_ID="5e7a1b2c-0000-4000-8000-00000000a9b1",
        AZURE_CLIENT_CERTIFICATE_PATH=str(tmp_path / "nope.pem"),
    )
    with pytest.raises(nbauth.MethodUnavailable, match="does not exist"):
        svc_session.login("environment")


def test_wrong_secret_is_an_entra_error_without_the_secret(
    emulator, emu_admin, service_env, svc_session
):
    sp = emulator["service_principal"]
    wrong = "wrong-secret-0123456789-abcdefghij"
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"], AZURE_CLIENT_ID=sp["client_id"], AZURE_CLIENT_SECRET=wrong
    )
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login("environment")
    error = caught.value
    assert error.aadsts == 7000215
    assert "client secret is not valid" in str(error)
    restored = pickle.loads(pickle.dumps(error))
    assert restored.aadsts == 7000215
    assert_no_secret_in(
        [str(error), repr(error), str(restored)], [wrong, *known_secrets(emu_admin, emulator)]
    )
    assert svc_session.account is None


def test_nbauth_login_defaults_to_auto_like_azlogin(emulator, emu_admin, service_env):
    """``nbauth.login()`` takes %azlogin's default (auto): with a service principal in the
    environment it signs in through it, instead of waiting for a device code nobody enters."""
    from nbauth._kernel import reset_session

    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    try:
        signin = nbauth.login(timeout=30)
        assert signin.status == "succeeded"
        assert signin.account.method == "environment"
        assert [r["grant_type"] for r in token_requests(emu_admin)] == ["client_credentials"]
    finally:
        reset_session()
