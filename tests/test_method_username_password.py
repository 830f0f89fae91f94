"""Username / password (ROPC) sign-in with real msal against the emulator, nbauth's HTTP client
keeping the emulator's port on msal's user-realm URL (no test-side workaround here)."""

from __future__ import annotations

import logging
import warnings

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    token_requests,
)
from _user_method_fixtures import arm_subscription_ids

from nbauth._errors import ConfigurationError, EntraError
from nbauth._http import _with_authority_port, build_http_client, keep_authority_port
from nbauth._methods.username_password import DEPRECATION_MESSAGE

ALICE_PASSWORD = "alice-Passw0rd"
BOB_PASSWORD = "bob-Passw0rd"


def _ours(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if str(w.message) == DEPRECATION_MESSAGE]


def test_signs_in_and_the_credential_works_with_arm(nbsession, admin):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signin = nbsession.login("username_password", username=ALICE, password=ALICE_PASSWORD)

    assert signin.status == "succeeded"
    account = signin.account
    assert account.username == ALICE and account.method == "username_password"
    assert nbsession.account == account
    assert "c0a50001-0000-4000-8000-000000000001" in arm_subscription_ids(nbsession.credential())
    [warning] = _ours(caught)
    assert warning.category is FutureWarning
    assert "multi-factor" in DEPRECATION_MESSAGE and "device code" in DEPRECATION_MESSAGE
    # msal's own DeprecationWarning is replaced by ours, not added to it.
    assert not [w for w in caught if w.category is DeprecationWarning and "msal" in w.filename]
    [realm] = [r for r in admin.requests() if r.get("endpoint") == "userrealm"]
    assert realm["status"] == 200
    assert len(token_requests(admin, "password")) == 1


def test_warns_once_per_session(nbsession, admin):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nbsession.login("username_password", username=ALICE, password=ALICE_PASSWORD)
        nbsession.login("username_password", username=ALICE, password=ALICE_PASSWORD)
    assert len(_ours(caught)) == 1


def test_mfa_account_gets_the_advice_to_use_device_code(nbsession, admin):
    with pytest.raises(EntraError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nbsession.login("username_password", username=BOB, password=BOB_PASSWORD)
    error = caught.value
    assert error.aadsts == 50076
    assert "device code" in str(error) and "%azlogin" in str(error)
    assert nbsession.account is None


def test_wrong_password_is_never_echoed(nbsession, admin, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-passw0rd-that-must-not-leak"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        signin = nbsession.login("username_password", username=ALICE, password=wrong, wait=False)
    assert signin.status == "failed"
    error = signin.error
    assert isinstance(error, EntraError) and error.aadsts == 50126
    texts = [str(error), repr(error), repr(signin), caplog.text, capsys.readouterr().out]
    assert not any(wrong in text for text in texts)
    assert_no_secret_in(texts, issued_secrets(admin))


def test_password_is_in_no_repr(nbsession, admin):
    from types import MappingProxyType

    from nbauth._methods import SignInRequest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        signin = nbsession.login("ropc", username=ALICE, password=ALICE_PASSWORD)  # an alias
    request = SignInRequest(
        method="username_password",
        authority_host="https://127.0.0.1:1",
        tenant="organizations",
        client_id="c",
        scopes=("s",),
        prompt=print,
        options=MappingProxyType({"username": ALICE, "password": ALICE_PASSWORD}),
    )
    assert signin.method == "username_password"
    texts = [repr(signin), repr(signin.account), repr(nbsession), repr(request), str(request)]
    assert not any(ALICE_PASSWORD in text for text in texts)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"username": ALICE}, "password"),
        ({"password": "x-Secret-1"}, "username"),
        ({}, "username and password"),
        ({"username": ALICE, "password": 1234}, "password"),
    ],
)
def test_missing_options_are_named_before_any_request(nbsession, admin, options, named):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login("username_password", **options)
    assert f"needs {named}" in str(caught.value)
    assert "x-Secret-1" not in str(caught.value) and "1234" not in str(caught.value)
    assert admin.requests() == []


def test_unknown_option_is_named_not_echoed(nbsession, admin):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(
            "username_password", username=ALICE, password=ALICE_PASSWORD, pin="98765-secret"
        )
    assert "pin" in str(caught.value) and "98765" not in str(caught.value)


def test_http_client_keeps_the_port_only_on_user_realm_urls():
    client = build_http_client()
    keep_authority_port(client, "https://login.contoso.example:8443")
    ports = client.authority_ports
    realm = "https://login.contoso.example/common/userrealm/a@b.example?api-version=1.0"
    assert _with_authority_port(realm, ports) == (
        "https://login.contoso.example:8443/common/userrealm/a@b.example?api-version=1.0"
    )
    for untouched in (
        "https://login.contoso.example/organizations/oauth2/v2.0/token",
        "https://login.contoso.example:9000/common/userrealm/a@b.example",
        "https://other.example/common/userrealm/a@b.example",
        "http://login.contoso.example/common/userrealm/a@b.example",
    ):
        assert _with_authority_port(untouched, ports) == untouched


def test_default_port_authorities_are_not_registered():
    client = build_http_client()
    keep_authority_port(client, "https://login.microsoftonline.com")
    keep_authority_port(client, "https://login.microsoftonline.com:443")
    assert client.authority_ports == {}
