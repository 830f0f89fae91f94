"""nbauth's errors: hierarchy, Entra errors from the real emulator, guidance, redaction, pickling."""

from __future__ import annotations

import pickle

import msal
import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    sign_in,
)
from azure.core.exceptions import ClientAuthenticationError
from fixtures.fake_tokens import JWT_WITH_TID, UNSIGNED_JWT

from nbauth import _aadsts
from nbauth._errors import (
    AuthenticationError,
    AuthenticationRequired,
    ConfigurationError,
    EntraError,
    InteractionRequired,
    NbauthError,
    SignInCancelled,
    SignInDeclined,
    SignInError,
    SignInExpired,
    SignInTimeout,
    from_msal_result,
    redact,
)

UNKNOWN_CLIENT = "00000000-0000-0000-0000-00000000dead"


def test_hierarchy_fits_azure_core_and_python():
    for cls in (AuthenticationRequired, SignInCancelled, SignInDeclined, SignInExpired, EntraError):
        assert issubclass(cls, AuthenticationError)
        assert issubclass(cls, ClientAuthenticationError)
        assert issubclass(cls, NbauthError)
    for cls in (SignInCancelled, SignInDeclined, SignInExpired):
        assert issubclass(cls, SignInError)
    assert issubclass(SignInTimeout, TimeoutError) and not issubclass(
        SignInTimeout, AuthenticationError
    )
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(InteractionRequired, EntraError) and issubclass(
        InteractionRequired, AuthenticationRequired
    )


def raw_msal_error(emulator, client_id: str = UNKNOWN_CLIENT, **headers) -> dict:
    """An error result straight from real msal talking to the emulator."""
    app = msal.PublicClientApplication(
        client_id,
        authority=emulator["authority_host"] + "/organizations",
        instance_discovery=False,
    )
    flow = app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert "error" in flow
    return flow


def test_entra_error_carries_every_field_from_a_real_error(emulator, emu_admin):
    result = raw_msal_error(emulator)

    exc = from_msal_result(result)

    assert type(exc) is EntraError
    assert exc.error == result["error"]
    assert exc.error_codes == (700016,) and exc.aadsts == 700016
    assert exc.correlation_id == result["correlation_id"]
    assert exc.trace_id == result["trace_id"]
    assert exc.timestamp == result["timestamp"]
    assert exc.description.startswith("AADSTS700016:")
    assert exc.guidance == _aadsts.explain(700016).guidance
    first, second = str(exc).split("\n")
    assert first == f"{exc.summary} {exc.guidance}"  # plain language first
    assert second.startswith("AADSTS700016: ")
    assert f"correlation id {exc.correlation_id}" in second
    assert "Trace ID:" not in second  # Entra's tail is folded into the parenthesis


def test_login_turns_real_errors_into_entra_errors_with_guidance(nbsession, admin):
    with pytest.raises(EntraError) as unknown_tenant:
        nbsession.login(tenant="nowhere.example", prompt=lambda p: None)
    assert unknown_tenant.value.aadsts == 90002
    assert "tenant" in unknown_tenant.value.guidance.lower()


def test_password_errors_map_to_guidance(emulator, emu_admin):
    import requests

    # Raw HTTP: msal's own password flow drops the port from the authority for its user-realm
    # lookup, so it cannot reach an emulator on a non-443 port.
    def password_grant(username: str, password: str) -> dict:
        response = requests.post(
            emulator["authority_host"] + "/organizations/oauth2/v2.0/token",
            data={
                "grant_type": "password",
                "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                "username": username,
                "password": password,
                "scope": ARM_SCOPE + " openid profile offline_access",
            },
            timeout=30,
        )
        assert response.status_code in (400, 401)
        return response.json()

    wrong = from_msal_result(password_grant(ALICE, "wrong password"))
    mfa = from_msal_result(password_grant(BOB, "bob-Passw0rd"), silent=True)
    assert wrong.aadsts == 50126 and "password" in str(wrong).splitlines()[0]
    assert mfa.aadsts == 50076 and "%azlogin" in mfa.guidance
    assert isinstance(mfa, InteractionRequired)  # interaction_required in a silent context


def test_device_flow_errors_become_named_sign_in_errors():
    declined = from_msal_result(
        {"error": "authorization_declined", "error_description": "AADSTS70000: declined"}
    )
    expired = from_msal_result({"error": "expired_token", "error_codes": [70020]})
    assert isinstance(declined, SignInDeclined) and isinstance(declined.__cause__, EntraError)
    assert isinstance(expired, SignInExpired) and expired.__cause__.aadsts == 70020


@pytest.mark.parametrize(
    "code",
    [
        50020,
        50034,
        50076,
        50126,
        53003,
        65001,
        70011,
        70019,
        700016,
        700082,
        7000215,
        7000218,
        90002,
        50173,
        50194,
        70016,
        70020,
        70000,
        70008,
        54005,
    ],
)
def test_guidance_table_covers_the_common_codes(code):
    explanation = _aadsts.explain(code)
    assert explanation.summary and explanation.guidance
    assert "login.microsoftonline.com/error" not in explanation.guidance  # a real entry


def test_unknown_codes_link_to_microsofts_lookup_page():
    exc = EntraError(error="invalid_request", description="AADSTS99999999: Something new.")
    assert exc.aadsts == 99999999
    assert "https://login.microsoftonline.com/error?code=99999999" in str(exc)


def test_redact_removes_tokens_and_keeps_ids_and_urls():
    jwt = JWT_WITH_TID
    opaque = "0.AXoAq1Bx3vNZr8Kp2LmQ9sT4uW7yZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ12345"
    guid = "4a1f6b2c-1c0e-4f6a-9e3d-c0a705000001"
    text = f"token {jwt} rt={opaque} at https://login.example/{guid}/oauth2/v2.0/token id {guid}"
    cleaned = redact(text)
    assert jwt not in cleaned and opaque not in cleaned
    assert cleaned.count(guid) == 2
    assert "https://login.example/" in cleaned and "oauth2/v2.0/token" in cleaned


def test_server_text_is_redacted_in_messages():
    secret = UNSIGNED_JWT
    exc = from_msal_result(
        {"error": "invalid_grant", "error_description": f"AADSTS50173: bad {secret}"}
    )
    assert secret not in str(exc) and secret not in repr(exc) and secret not in exc.description


def test_pickled_errors_keep_fields_and_no_secrets(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    admin.revoke(ALICE)
    with pytest.raises(InteractionRequired) as caught:
        nbsession.credential().get_token("https://graph.microsoft.com/.default")
    exc = caught.value

    data = pickle.dumps(exc)
    back = pickle.loads(data)

    assert type(back) is InteractionRequired
    assert (back.aadsts, back.correlation_id, back.guidance) == (
        exc.aadsts,
        exc.correlation_id,
        exc.guidance,
    )
    assert str(back) == str(exc)
    assert isinstance(back, ClientAuthenticationError)
    assert_no_secret_in([data.decode("latin-1"), str(back)], issued_secrets(admin))


def test_simple_errors_pickle_too():
    for exc in (
        AuthenticationRequired(),
        SignInCancelled("cancelled"),
        SignInTimeout("still pending"),
        ConfigurationError("bad"),
    ):
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
