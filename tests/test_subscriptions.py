"""Tenants and subscriptions from the emulator's ARM, and choosing the kernel's subscription."""

from __future__ import annotations

import dataclasses

import pytest
from _accounts_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    CAROL,
    CONTOSO,
    DAVE,
    FABRIKAM,
    TENANT_NAME,
    admin_fixture,
    alice_and_carol_fixture,
    alice_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    requests_of,
    seeded_subscriptions,
    seeded_tenants,
    sign_in,
    token_requests,
)

import nbauth
from nbauth import _subscriptions
from nbauth._accounts import use_account
from nbauth._errors import AuthenticationRequired, ConfigurationError
from nbauth._subscriptions import (
    Subscription,
    current_subscription,
    list_all,
    resolve_tenant,
    set_subscription,
    subscription_id,
    subscriptions,
    tenants,
)

DATA_SCIENCE = "c0a50002-0000-4000-8000-000000000002"
ANALYTICS = "fab00004-0000-4000-8000-000000000004"


def by_tenant(subs: list[Subscription]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for sub in subs:
        out.setdefault(sub.tenant_id, {})[sub.subscription_id] = sub.display_name
    return out


def test_tenants_of_alice_include_the_guest_tenant(alice):
    found = tenants(session=alice)
    assert [t.tenant_id for t in found] == [CONTOSO, FABRIKAM]  # home tenant first
    assert {t.tenant_id for t in found} == seeded_tenants(ALICE)
    assert found[1].display_name == "Fabrikam" and found[1].default_domain == "fabrikam.example"
    assert found[1].label == "Fabrikam (fabrikam.example)"


def test_subscriptions_per_tenant_match_the_seed(alice_and_carol):
    carol_subs = subscriptions(session=alice_and_carol)
    assert by_tenant(carol_subs) == seeded_subscriptions(CAROL)
    use_account(ALICE, session=alice_and_carol)
    alice_subs = subscriptions(session=alice_and_carol)
    assert by_tenant(alice_subs) == seeded_subscriptions(ALICE)
    assert {s.tenant_name for s in alice_subs} == {"Contoso", "Fabrikam"}
    assert all(s.state == "Enabled" for s in alice_subs)


@pytest.mark.parametrize("tenant", [FABRIKAM, "fabrikam.example", "Fabrikam", "FABRIKAM.EXAMPLE"])
def test_one_tenant_by_id_domain_or_name(alice, tenant):
    found = subscriptions(tenant, session=alice)
    assert by_tenant(found) == {FABRIKAM: seeded_subscriptions(ALICE)[FABRIKAM]}


def test_unknown_tenant_lists_the_accepted_ones(alice):
    with pytest.raises(ConfigurationError) as info:
        resolve_tenant("northwind.example", session=alice)
    message = str(info.value)
    assert "northwind.example" in message
    assert CONTOSO in message and "Fabrikam (fabrikam.example)" in message


def test_set_by_id_and_by_name(alice):
    assert set_subscription(DATA_SCIENCE, session=alice).display_name == "Contoso Data Science"
    assert subscription_id(alice) == DATA_SCIENCE
    assert (
        set_subscription("/subscriptions/" + ANALYTICS, session=alice).subscription_id == ANALYTICS
    )
    assert set_subscription("contoso production", session=alice).subscription_id.startswith(
        "c0a50001"
    )
    assert set_subscription("Analytics", session=alice).subscription_id == ANALYTICS  # unique part
    assert current_subscription(alice) == Subscription(
        ANALYTICS, "Fabrikam Analytics", FABRIKAM, "Enabled", "Fabrikam"
    )


def test_ambiguous_name_lists_the_matches(alice):
    set_subscription(DATA_SCIENCE, session=alice)
    with pytest.raises(ConfigurationError) as info:
        set_subscription("contoso", session=alice)
    message = str(info.value)
    assert "matches 2 subscriptions" in message
    assert "Contoso Production" in message and "Contoso Data Science" in message
    assert "Fabrikam" not in message
    assert subscription_id(alice) == DATA_SCIENCE  # unchanged


def test_unknown_subscription_lists_what_is_there(alice):
    with pytest.raises(ConfigurationError) as info:
        set_subscription("Northwind Billing", session=alice)
    assert "Fabrikam Analytics" in str(info.value)
    assert subscription_id(alice) is None


def test_guest_tenant_subscription_is_obtained_silently(alice, admin):
    admin.clear_requests()
    chosen = set_subscription(ANALYTICS, session=alice)
    assert chosen.tenant_id == FABRIKAM
    grants = token_requests(admin)
    assert [g["grant_type"] for g in grants] == ["refresh_token"]
    assert FABRIKAM in grants[0]["path"]
    assert requests_of(admin, "devicecode") == []
    # The credential now has Fabrikam's token: a second choice costs no token request.
    set_subscription(ANALYTICS, tenant="Fabrikam", session=alice)
    assert len(token_requests(admin)) == 1


def test_tenant_that_needs_a_new_sign_in(alice, admin):
    tenants(session=alice)  # the Contoso token and the tenant names are cached first
    admin.revoke(ALICE)  # Fabrikam can no longer be reached with the refresh token
    admin.clear_requests()
    with pytest.warns(UserWarning, match="Fabrikam"):
        found = subscriptions(session=alice)
    assert {s.tenant_id for s in found} == {CONTOSO}
    listing = list_all(session=alice)
    assert [(s.tenant.tenant_id, s.needs_sign_in) for s in listing.skipped] == [(FABRIKAM, True)]

    with pytest.raises(ConfigurationError) as info:  # not found among what is reachable ...
        set_subscription("Fabrikam Analytics", session=alice)
    assert f"%azsubscription --tenant {FABRIKAM}" in str(info.value)  # ... and says what to do

    with pytest.raises(AuthenticationRequired) as info:
        set_subscription("Fabrikam Analytics", tenant=FABRIKAM, session=alice, interactive=False)
    assert "%azsubscription --tenant" in str(info.value)
    assert requests_of(admin, "devicecode") == []

    admin.clear_requests()
    chosen = set_subscription(
        "Fabrikam Analytics", tenant=FABRIKAM, session=alice, prompt=approving_prompt(admin, ALICE)
    )
    assert chosen.subscription_id == ANALYTICS and subscription_id(alice) == ANALYTICS
    [devicecode] = requests_of(admin, "devicecode")
    assert FABRIKAM in devicecode["path"]
    assert alice.account.username == ALICE and alice.account.tenant_id == FABRIKAM


def test_a_tenant_sign_in_is_shown_by_the_callers_interactive_sign_in(alice, admin):
    """The domain knows no UI: without a way to show the sign-in it says what to run (nothing
    asked of Entra); with one (the magics pass the card's), that shows it."""
    tenants(session=alice)
    admin.revoke(ALICE)
    admin.clear_requests()
    with pytest.raises(AuthenticationRequired) as info:
        set_subscription("Fabrikam Analytics", tenant=FABRIKAM, session=alice)
    assert f"%azsubscription --tenant {FABRIKAM}" in str(info.value)
    assert requests_of(admin, "devicecode") == []

    asked: list[dict] = []

    def shown(session, **sign_in):
        asked.append(sign_in)
        return session.login(
            tenant=sign_in["tenant"],
            authority_host=sign_in["authority_host"],
            prompt=approving_prompt(admin, sign_in["account_hint"]),
        )

    chosen = set_subscription(
        "Fabrikam Analytics", tenant=FABRIKAM, session=alice, interactive_sign_in=shown
    )
    assert chosen.subscription_id == ANALYTICS
    [call] = asked
    assert call["tenant"] == FABRIKAM and call["account_hint"] == ALICE
    assert call["reason"].startswith(f"Tenant {TENANT_NAME[FABRIKAM]}")
    assert call["authority_host"] == alice.account.authority.rsplit("/", 1)[0]


def test_the_choice_lives_on_the_session_and_goes_with_the_account(alice):
    set_subscription(DATA_SCIENCE, session=alice)
    home = alice.account.home_account_id
    assert alice.subscription_choices.chosen(home).subscription_id == DATA_SCIENCE
    assert alice.subscription_choices.tenants(home)  # names for messages, kept on the session
    alice.logout()
    assert alice.subscription_choices.chosen(home) is None
    assert alice.subscription_choices.tenant_names() == {}


def test_subscription_follows_the_account(alice_and_carol):
    use_account(ALICE, session=alice_and_carol)
    set_subscription(DATA_SCIENCE, session=alice_and_carol)
    use_account(CAROL, session=alice_and_carol)
    assert subscription_id(alice_and_carol) is None
    set_subscription("Fabrikam Research", session=alice_and_carol)
    use_account(ALICE, session=alice_and_carol)
    assert subscription_id(alice_and_carol) == DATA_SCIENCE
    use_account(CAROL, session=alice_and_carol)
    assert subscription_id(alice_and_carol).startswith("fab00005")


def test_clear_subscription(alice):
    set_subscription(DATA_SCIENCE, session=alice)
    _subscriptions.clear_subscription(alice)
    assert current_subscription(alice) is None


def test_account_without_subscriptions(nbsession, admin):
    sign_in(nbsession, admin, DAVE)
    assert subscriptions(session=nbsession) == []
    with pytest.raises(ConfigurationError) as info:
        set_subscription("anything", session=nbsession)
    assert "this account sees no subscriptions" in str(info.value)


def test_nobody_signed_in(nbsession, admin):
    with pytest.raises(AuthenticationRequired) as info:
        subscriptions(session=nbsession)
    assert "%azlogin" in str(info.value)
    assert subscription_id(nbsession) is None
    assert requests_of(admin, "arm") == []


def test_values_are_frozen_and_hold_no_secret(alice, admin):
    subs = subscriptions(session=alice)
    with pytest.raises(dataclasses.FrozenInstanceError):
        subs[0].display_name = "changed"  # type: ignore[misc]
    assert subs[0].id == f"/subscriptions/{subs[0].subscription_id}"
    assert_no_secret_in([repr(subs), repr(tenants(session=alice))], issued_secrets(admin))


def test_public_names():
    assert nbauth.set_subscription is set_subscription
    assert nbauth.subscription_id is subscription_id
    assert nbauth.Tenant is _subscriptions.Tenant
    assert {
        "accounts",
        "use_account",
        "logout_account",
        "tenants",
        "subscriptions",
        "current_subscription",
        "Subscription",
        "ResourceManagerError",
    } <= set(nbauth.__all__)
    assert TENANT_NAME[FABRIKAM] == "Fabrikam"
