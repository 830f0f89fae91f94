"""nbauth.legacy.CredentialWrapper with the real msrest ServiceClient against the emulator's
Resource Manager (real HTTPS, real tokens)."""

from __future__ import annotations

import pickle

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    jwt_claims,
    nbsession_fixture,
    sign_in,
    token_requests,
)
from _service_fixtures import PRODUCTION_SUBSCRIPTION, arm_subscriptions

from nbauth._errors import AuthenticationRequired
from nbauth.legacy import CredentialWrapper

msrest = pytest.importorskip("msrest")


def _subscriptions(wrapper, endpoint: str) -> list[str]:
    from msrest import Configuration, ServiceClient

    config = Configuration(endpoint)
    config.credentials = wrapper
    client = ServiceClient(None, config)
    try:
        request = client.get("/subscriptions", params={"api-version": "2022-12-01"})
        response = client.send(request)
        assert response.status_code == 200, response.text
        return [s["subscriptionId"] for s in response.json()["value"]]
    finally:
        client.close()


@pytest.fixture
def alice(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    return nbsession


def test_msrest_service_client_lists_subscriptions(alice, admin, emulator):
    wrapper = CredentialWrapper(alice.credential())
    subscriptions = _subscriptions(wrapper, emulator["arm_endpoint"])

    assert "c0a50001-0000-4000-8000-000000000001" in subscriptions
    arm_calls = [r for r in admin.requests() if r.get("server") == "arm"]
    assert len(arm_calls) == 1 and arm_calls[0]["status"] == 200


def test_repeated_requests_reuse_one_token(alice, admin, emulator):
    wrapper = CredentialWrapper(alice.credential())
    before = len(token_requests(admin))
    for _ in range(3):
        _subscriptions(wrapper, emulator["arm_endpoint"])
    # The sign-in already brought a Resource Manager token: no token request at all.
    assert len(token_requests(admin)) == before


def test_default_scope_is_the_kernel_clouds_resource_manager(alice):
    wrapper = CredentialWrapper(alice.credential())
    assert wrapper.scope == alice.cloud.arm_scope == ARM_SCOPE


def test_resource_url_becomes_a_default_scope(alice):
    wrapper = CredentialWrapper(alice.credential(), "https://storage.azure.com")
    assert wrapper.scope == "https://storage.azure.com/.default"
    assert jwt_claims(wrapper.token["access_token"])["aud"] == "https://storage.azure.com"


def test_token_dict_and_set_token_like_msrestazure(alice):
    wrapper = CredentialWrapper(alice.credential())
    wrapper.set_token()
    token = wrapper.token
    assert token["token_type"] == "Bearer" and token["expires_on"] > 0
    assert jwt_claims(token["access_token"])["upn"] == ALICE


def test_signed_session_sets_the_bearer_header(alice):
    import requests

    session = requests.Session()
    assert CredentialWrapper(alice.credential()).signed_session(session) is session
    scheme, _, value = session.headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and jwt_claims(value)["upn"] == ALICE
    fresh = CredentialWrapper(alice.credential()).refresh_session()
    assert fresh.headers["Authorization"].startswith("Bearer ")


def test_works_as_a_token_credential_too(alice):
    wrapper = CredentialWrapper(alice.credential())
    assert jwt_claims(wrapper.get_token().token)["aud"] == "https://management.azure.com/"
    info = wrapper.get_token_info("https://storage.azure.com/.default")
    assert jwt_claims(info.token)["aud"] == "https://storage.azure.com"


class GetTokenOnly:
    """A credential with ``get_token`` only, as older azure-identity versions and hand-written
    credentials are (azure-core's ``TokenCredential`` protocol, nothing more)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.asked: list[tuple[tuple[str, ...], dict]] = []

    def get_token(self, *scopes, **kwargs):
        self.asked.append((scopes, kwargs))
        return self._inner.get_token(*scopes, **kwargs)


def test_a_credential_with_get_token_only_works_in_an_azure_core_pipeline(alice):
    """azure-core asks for get_token_info whenever the wrapper has it: the wrapper answers
    from the inner credential's get_token, passing the options on."""
    inner = GetTokenOnly(alice.credential())
    assert PRODUCTION_SUBSCRIPTION in arm_subscriptions(CredentialWrapper(inner), ARM_SCOPE)
    assert inner.asked == [((ARM_SCOPE,), {})]
    fabrikam = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"
    info = CredentialWrapper(inner).get_token_info(ARM_SCOPE, options={"tenant_id": fabrikam})
    assert jwt_claims(info.token)["tid"] == fabrikam and info.expires_on > 0
    assert info.token not in repr(info)  # what a traceback or %xmode Verbose would print


def test_tenant_id_is_passed_on(alice):
    fabrikam = "9d3e7a41-5b2f-4c8e-8a6d-fab71a000002"
    wrapper = CredentialWrapper(alice.credential(), tenant_id=fabrikam)
    assert jwt_claims(wrapper.token["access_token"])["tid"] == fabrikam
    assert fabrikam in repr(wrapper)


def test_no_token_in_repr_and_pickling_refuses_with_the_kernel_credential(alice, admin):
    wrapper = CredentialWrapper(alice.credential())
    wrapper.set_token()
    assert_no_secret_in([repr(wrapper), str(wrapper), str(vars(wrapper))], issued_secrets(admin))
    with pytest.raises(TypeError):
        pickle.dumps(wrapper)


def test_nobody_signed_in_says_to_run_azlogin(nbsession, emulator):
    wrapper = CredentialWrapper(nbsession.credential())
    with pytest.raises(AuthenticationRequired) as caught:
        wrapper.signed_session()
    assert "%azlogin" in str(caught.value)


def test_defaults_to_the_kernel_credential(nbsession, admin, emulator, monkeypatch):
    import nbauth._kernel as session_module

    # The kernel's session, signed in through the public API, is what a bare wrapper uses.
    session_module.reset_session()
    try:
        kernel = session_module.session()
        sign_in(kernel, admin, ALICE)
        assert _subscriptions(CredentialWrapper(), emulator["arm_endpoint"])
    finally:
        session_module.reset_session()
