"""``workload_identity``: a federated service account token exchanged for tokens of an app
(AKS workload identity), against the emulator's workload issuer and federated credential."""

from __future__ import annotations

import pytest
import requests
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


def federated_token(emulator, **body) -> str:
    response = requests.post(f"{emulator['admin_url']}/federated-token", json=body, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def test_signs_in_from_the_ready_files_token(emulator, emu_admin, service_env, svc_session):
    workload = emulator["workload_identity"]
    service_env.set(**workload["env"])
    signin = svc_session.login("workload_identity")

    account = signin.account
    assert account.method == "workload_identity"
    assert account.client_id == workload["client_id"]
    assert account.username == f"service principal {workload['client_id'][:8]}…"
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    grants = token_requests(emu_admin)
    assert {(r["grant_type"], r["client_id"]) for r in grants} == {
        ("client_credentials", workload["client_id"])
    }


def test_token_file_option_and_explicit_ids(
    emulator, emu_admin, service_env, svc_session, tmp_path
):
    workload = emulator["workload_identity"]
    token_file = tmp_path / "token"
    token_file.write_text(federated_token(emulator))
    svc_session.login(
        "workload",
        tenant=workload["tenant_id"],
        client_id=workload["client_id"],
        token_file=str(token_file),
    )
    assert svc_session.account.tenant_id == workload["tenant_id"]


def test_unknown_subject_is_refused_like_entra(
    emulator, emu_admin, service_env, svc_session, tmp_path
):
    workload = emulator["workload_identity"]
    token_file = tmp_path / "token"
    token = federated_token(emulator, subject="system:serviceaccount:other:intruder")
    token_file.write_text(token)
    service_env.set(**{**workload["env"], "AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login("workload_identity")
    assert caught.value.aadsts == 70021
    assert "system:serviceaccount:other:intruder" in str(caught.value)
    assert_no_secret_in([str(caught.value)], [token, *known_secrets(emu_admin, emulator)])


def test_expired_token_is_refused(emulator, emu_admin, service_env, svc_session, tmp_path):
    workload = emulator["workload_identity"]
    token_file = tmp_path / "token"
    token_file.write_text(federated_token(emulator, lifetime_s=-120))
    service_env.set(**{**workload["env"], "AZURE_FEDERATED_TOKEN_FILE": str(token_file)})
    with pytest.raises(nbauth.EntraError) as caught:
        svc_session.login("workload_identity")
    assert caught.value.aadsts == 700024


def test_partial_configuration_names_what_is_missing(service_env, svc_session, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("x")
    service_env.set(AZURE_FEDERATED_TOKEN_FILE=str(token_file))
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("workload_identity")
    assert caught.value.reason == (
        "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID and AZURE_CLIENT_ID are missing"
    )


def test_not_configured(service_env, svc_session, emu_admin):
    with pytest.raises(nbauth.MethodUnavailable) as caught:
        svc_session.login("workload_identity")
    assert caught.value.reason == "AZURE_FEDERATED_TOKEN_FILE is not set"
    assert token_requests(emu_admin) == []


def test_token_file_that_does_not_exist(emulator, service_env, svc_session, tmp_path):
    workload = emulator["workload_identity"]
    service_env.set(**{**workload["env"], "AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "gone")})
    with pytest.raises(nbauth.MethodUnavailable, match="does not exist"):
        svc_session.login("workload_identity")
