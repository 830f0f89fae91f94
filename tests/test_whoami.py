"""``nbauth.whoami()``: who, tenant, method, subscription, expiry per resource; never a token."""

from __future__ import annotations

import pickle

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    CONTOSO,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    sign_in,
)

from nbauth._whoami import TokenExpiry, WhoAmI, whoami


def test_nobody_signed_in(nbsession):
    info = whoami(nbsession)
    assert isinstance(info, WhoAmI)
    assert info.signed_in is False and info.tokens == ()
    assert str(info) == "Nobody is signed in in this kernel. Run `%azlogin` (or `nbauth.login()`)."
    assert "Nobody is signed in" in info._repr_html_()


def test_pending_sign_in_is_mentioned(nbsession, admin):
    pending = nbsession.login(wait=False, prompt=lambda p: None)
    try:
        info = whoami(nbsession)
        assert info.pending is True
        assert "in progress" in str(info)
    finally:
        pending.cancel()


def test_signed_in_lists_who_where_how_and_each_token_expiry(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    credential = nbsession.credential()
    arm = credential.get_token(ARM_SCOPE)
    storage = credential.get_token(STORAGE_SCOPE)
    guest = credential.get_token(ARM_SCOPE, tenant_id=FABRIKAM)

    info = whoami(nbsession)
    assert info.account.username == ALICE
    assert info.account.tenant_id == CONTOSO
    expected = {
        ("https://management.azure.com/", None): arm.expires_on,
        ("https://storage.azure.com", None): storage.expires_on,
        ("https://management.azure.com/", FABRIKAM): guest.expires_on,
    }
    assert {(t.resource, t.tenant): int(t.expires_on) for t in info.tokens} == expected

    text = str(info)
    assert text.splitlines()[0] == f"Signed in as {ALICE}."
    assert f"Tenant:       {CONTOSO}" in text
    assert "Method:       device code" in text
    assert "Subscription: none chosen" in text
    assert f"https://management.azure.com/ (tenant {FABRIKAM})" in text
    assert text.count("valid until") == 3

    html = info._repr_html_()
    assert "<table" in html and ALICE in html and "https://storage.azure.com" in html

    # never a token, whichever way it is shown or stored
    assert_no_secret_in(
        [text, html, repr(info), pickle.dumps(info).decode("latin-1")], issued_secrets(admin)
    )


def test_token_expiry_flags_expired_tokens():
    assert TokenExpiry("https://storage.azure.com", None, 1.0).expired is True
    assert TokenExpiry("https://storage.azure.com", None, 4e9).expired is False


def test_account_text_is_escaped_in_html():
    from nbauth._signin import Account

    account = Account(
        username="<script>x</script>@contoso.example",
        home_account_id="o.t",
        tenant_id="t",
        home_tenant_id="t",
        name=None,
        method="device_code",
        authority="https://127.0.0.1/organizations",
    )
    html = WhoAmI(account=account)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_subscription_is_shown_when_one_is_chosen(nbsession, admin):
    subscriptions = pytest.importorskip("nbauth._subscriptions")
    if not hasattr(subscriptions, "set_subscription"):
        pytest.skip("the subscriptions module has no set_subscription yet")
    sign_in(nbsession, admin, ALICE)
    chosen = subscriptions.set_subscription("Contoso Production", session=nbsession)
    text = str(whoami(nbsession))
    assert f"Subscription: Contoso Production ({chosen.subscription_id})" in text


def test_public_name():
    import nbauth

    assert nbauth.whoami is whoami and nbauth.WhoAmI is WhoAmI
