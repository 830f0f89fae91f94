"""Accounts of a session: list, switch, sign one out (real device-code sign-ins, real msal cache)."""

from __future__ import annotations

import pytest
from _accounts_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    CAROL,
    CONTOSO,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    alice_and_carol_fixture,
    alice_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    requests_of,
    sign_in,
    token_requests,
)
from _core_fixtures import jwt_claims

from nbauth._accounts import accounts, find_account, logout_account, use_account
from nbauth._errors import AuthenticationRequired, ConfigurationError
from nbauth._subscriptions import set_subscription, subscription_id


def upn(session, scope=ARM_SCOPE) -> str:
    return jwt_claims(session.credential().get_token(scope).token)["upn"]


def test_lists_both_accounts_current_last_signed_in(alice_and_carol):
    found = accounts(session=alice_and_carol)
    assert [a.username for a in found] == [ALICE, CAROL]
    assert alice_and_carol.account.username == CAROL
    alice = found[0]
    assert alice.home_tenant_id == CONTOSO and alice.tenant_id == CONTOSO
    assert alice.method == "device_code"
    assert alice.home_account_id.endswith("." + CONTOSO)


def test_switch_needs_no_sign_in(alice_and_carol, admin):
    admin.clear_requests()
    account = use_account(ALICE, session=alice_and_carol)
    assert account.username == ALICE
    assert alice_and_carol.account.home_account_id == account.home_account_id
    assert upn(alice_and_carol) == ALICE  # from alice's cached token: no request
    assert requests_of(admin, "devicecode") == []
    assert token_requests(admin) == []
    # A new resource for alice: one refresh with alice's refresh token.
    assert upn(alice_and_carol, STORAGE_SCOPE) == ALICE
    assert len(token_requests(admin, "refresh_token")) == 1
    # ... and back to carol.
    use_account(CAROL, session=alice_and_carol)
    assert upn(alice_and_carol) == CAROL
    assert requests_of(admin, "devicecode") == []


def test_switch_by_home_account_id_and_to_the_current_one(alice_and_carol):
    carol = alice_and_carol.account
    assert use_account(carol.home_account_id, session=alice_and_carol) is carol  # unchanged
    alice = find_account(ALICE.upper(), session=alice_and_carol)  # usernames: any case
    assert use_account(alice, session=alice_and_carol).username == ALICE


def test_switching_keeps_what_was_seen_of_an_account(alice, admin):
    first = alice.account
    accounts(session=alice)  # seen while current: name, authority and method are remembered
    sign_in(alice, admin, CAROL)
    listed = find_account(ALICE, session=alice)
    assert listed == first and listed.name == "Alice Example"
    assert use_account(ALICE, session=alice) == first


def test_unknown_account_names_the_known_ones(alice_and_carol):
    with pytest.raises(ConfigurationError) as info:
        use_account("mallory@contoso.example", session=alice_and_carol)
    message = str(info.value)
    assert "mallory@contoso.example" in message
    assert ALICE in message and CAROL in message
    assert "%azlogin" in message


def test_sign_out_another_account(alice_and_carol, admin):
    logout_account(ALICE, session=alice_and_carol)
    assert [a.username for a in accounts(session=alice_and_carol)] == [CAROL]
    assert alice_and_carol.account.username == CAROL
    assert upn(alice_and_carol, STORAGE_SCOPE) == CAROL
    with pytest.raises(ConfigurationError):
        use_account(ALICE, session=alice_and_carol)


def test_sign_out_the_current_account(alice_and_carol, admin):
    logout_account(CAROL, session=alice_and_carol)
    assert alice_and_carol.account is None
    assert [a.username for a in accounts(session=alice_and_carol)] == [ALICE]
    with pytest.raises(AuthenticationRequired):
        alice_and_carol.credential().get_token(ARM_SCOPE)
    use_account(ALICE, session=alice_and_carol)
    assert upn(alice_and_carol) == ALICE


DATA_SCIENCE = "c0a50002-0000-4000-8000-000000000002"


@pytest.mark.parametrize(
    "sign_out",
    [
        lambda s: logout_account(ALICE, session=s),
        lambda s: s.logout(),  # nbauth.logout() / %azlogout
        lambda s: s.logout(all=True),  # %azlogout --all
    ],
    ids=["logout_account", "logout", "logout_all"],
)
def test_sign_out_forgets_the_accounts_subscription(alice, admin, sign_out):
    set_subscription(DATA_SCIENCE, session=alice)
    assert subscription_id(alice) == DATA_SCIENCE
    sign_out(alice)
    assert subscription_id(alice) is None
    sign_in(alice, admin, ALICE)  # the same person, a new sign-in: no stale choice
    assert subscription_id(alice) is None


def test_sign_out_of_another_account_keeps_the_current_choice(alice_and_carol):
    set_subscription("Fabrikam Research", session=alice_and_carol)  # carol's
    logout_account(ALICE, session=alice_and_carol)
    assert subscription_id(alice_and_carol).startswith("fab00005")


def test_sign_out_of_everything(alice_and_carol):
    alice_and_carol.logout(all=True)
    assert accounts(session=alice_and_carol) == []


def test_no_accounts_before_any_sign_in(nbsession, admin):
    assert accounts(session=nbsession) == []
    with pytest.raises(ConfigurationError) as info:
        use_account(ALICE, session=nbsession)
    assert "Known accounts: none" in str(info.value)


def test_accounts_hold_no_secret(alice_and_carol, admin):
    found = accounts(session=alice_and_carol)
    use_account(ALICE, session=alice_and_carol)
    texts = [repr(found), str(found), repr(alice_and_carol)]
    assert_no_secret_in(texts, issued_secrets(admin))
