"""``client_secret`` and ``client_certificate``: a service principal named explicitly."""

from __future__ import annotations

from pathlib import Path

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


def test_client_secret(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    signin = svc_session.login(
        "client_secret",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
    )
    assert signin.account.method == "client_secret"
    assert signin.account.username == f"service principal {sp['client_id'][:8]}…"
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    assert_no_secret_in(
        [repr(signin), repr(svc_session), str(signin.account)], known_secrets(emu_admin, emulator)
    )


def test_client_secret_from_azure_client_secret(emulator, emu_admin, service_env, svc_session):
    """What `%azlogin --method client_secret --tenant T --client-id C` relies on."""
    sp = emulator["service_principal"]
    service_env.set(AZURE_CLIENT_SECRET=sp["client_secret"])
    svc_session.login("secret", tenant=sp["tenant_id"], client_id=sp["client_id"])
    assert svc_session.account.client_id == sp["client_id"]


def test_tenant_and_client_id_are_required(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.ConfigurationError) as caught:
        svc_session.login("client_secret", client_secret="x" * 40)
    assert "tenant=" in str(caught.value) and "client_id=" in str(caught.value)
    assert "x" * 40 not in str(caught.value)
    assert token_requests(emu_admin) == []


def test_missing_secret(service_env, svc_session, emulator):
    sp = emulator["service_principal"]
    with pytest.raises(nbauth.ConfigurationError, match="AZURE_CLIENT_SECRET"):
        svc_session.login("client_secret", tenant=sp["tenant_id"], client_id=sp["client_id"])


def test_wrong_secret(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    wrong = "Wrong~Secret~value~0123456789abcdef"
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login(
            "client_secret", tenant=sp["tenant_id"], client_id=sp["client_id"], client_secret=wrong
        )
    assert caught.value.aadsts == 7000215
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)


def test_unknown_option_is_named_not_echoed(emulator, service_env, svc_session):
    sp = emulator["service_principal"]
    with pytest.raises(nbauth.ConfigurationError) as caught:
        svc_session.login(
            "client_secret",
            tenant=sp["tenant_id"],
            client_id=sp["client_id"],
            client_secret=sp["client_secret"],
            pasword="typo-value-1234",
        )
    assert "pasword" in str(caught.value) and "typo-value" not in str(caught.value)
    assert sp["client_secret"] not in str(caught.value)


def test_client_certificate_path(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    svc_session.login(
        "certificate",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        certificate_path=sp["certificate_path"],
    )
    assert svc_session.account.method == "client_certificate"
    claims = _claims(svc_session.credential().get_token(STORAGE).token)
    assert claims["appid"] == sp["client_id"] and claims["appidacr"] == "2"
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]


def test_client_certificate_data(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    svc_session.login(
        "client_certificate",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        certificate_data=Path(sp["certificate_path"]).read_bytes(),
    )
    assert svc_session.account.client_id == sp["client_id"]


def test_certificate_file_missing(emulator, service_env, svc_session, tmp_path):
    sp = emulator["service_principal"]
    with pytest.raises(nbauth.ConfigurationError, match="does not exist"):
        svc_session.login(
            "client_certificate",
            tenant=sp["tenant_id"],
            client_id=sp["client_id"],
            certificate_path=tmp_path / "missing.pem",
        )


def test_unregistered_certificate_is_refused(
    emulator, emu_admin, service_env, svc_session, tmp_path
):
    import trustme

    other = trustme.CA().issue_cert("stranger", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "stranger.pem"
    pem.write_bytes(other.private_key_pem.bytes() + other.cert_chain_pems[0].bytes())
    sp = emulator["service_principal"]
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login(
            "client_certificate",
            tenant=sp["tenant_id"],
            client_id=sp["client_id"],
            certificate_path=str(pem),
        )
    assert caught.value.aadsts == 700027
