"""The account and subscription pickers, driven headlessly (``Button.click()``, trait values)
against the real emulator."""

from __future__ import annotations

import threading
import time

import pytest
from _accounts_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    CAROL,
    CONTOSO,
    FABRIKAM,
    admin_fixture,
    alice_and_carol_fixture,
    alice_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    requests_of,
    seeded_subscriptions,
    widget_states,
)
from _core_fixtures import poller_threads

from nbauth._subscriptions import subscription_id, tenants
from nbauth._ui.account_picker import AccountPicker
from nbauth._ui.subscription_picker import ALL_TENANTS, SubscriptionPicker

pytest.importorskip("ipywidgets")


def wait_until(predicate, timeout: float = 15.0) -> None:
    """Done callbacks run on the polling thread just after `SignIn.wait()` returns."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the picker did not reach the expected state")
        time.sleep(0.02)


def labels(select) -> list[str]:
    return [label for label, _value in select.options]


# -- account picker ---------------------------------------------------------------------------


def test_account_picker_shows_accounts_and_the_current_one(alice_and_carol):
    picker = AccountPicker(alice_and_carol)
    assert list(picker.rows) == [ALICE, CAROL]
    carol, alice = picker.rows[CAROL], picker.rows[ALICE]
    assert carol.use_button.disabled and carol.use_button.description == "Current"
    assert "(current)" in carol.label.value and "(current)" not in alice.label.value
    assert not alice.use_button.disabled
    assert CONTOSO in alice.label.value  # tenant shown (by ID until names are known)
    text = picker._repr_mimebundle_()["text/plain"]
    assert f"{CAROL} (current)" in text and ALICE in text
    assert "application/vnd.jupyter.widget-view+json" in picker._repr_mimebundle_()


def test_account_picker_switch_and_sign_out(alice_and_carol, admin):
    changes = []
    picker = AccountPicker(alice_and_carol, on_change=changes.append)
    picker.rows[ALICE].use_button.click()
    assert alice_and_carol.account.username == ALICE
    assert [a.username for a in changes] == [ALICE]
    assert picker.rows[ALICE].use_button.disabled and not picker.rows[CAROL].use_button.disabled
    assert "Now using alice@contoso.example." in picker.status.value
    assert (
        requests_of(admin, "devicecode") and len(requests_of(admin, "devicecode")) == 2
    )  # fixture's only

    picker.rows[CAROL].logout_button.click()
    assert list(picker.rows) == [ALICE]
    assert alice_and_carol.account.username == ALICE
    picker.rows[ALICE].logout_button.click()
    assert picker.rows == {} and alice_and_carol.account is None
    assert changes[-1] is None
    assert "No accounts are signed in" in picker.status.value


def test_account_picker_adds_an_account_inline(alice, admin):
    tenants(session=alice)  # tenant names known: rows show "Fabrikam (...)"
    picker = AccountPicker(alice)
    picker.add_button.click()
    signin = picker.sign_in.sign_in
    assert signin is not None and signin.status == "pending"
    card = picker.sign_in.card
    assert picker.sign_in.widget.children == (card,)
    assert picker.add_button.disabled
    code = card.view.user_code  # read from the widget, as a person reads the card
    assert len(code) == 9
    admin.approve(CAROL, code)
    assert signin.wait(timeout=15).username == CAROL
    wait_until(lambda: CAROL in picker.rows)
    assert alice.account.username == CAROL
    assert picker.rows[CAROL].use_button.disabled
    assert "Fabrikam" in picker.rows[CAROL].label.value
    assert picker.sign_in.widget.children == () and not picker.add_button.disabled
    assert "Signed in as carol@fabrikam.example" in picker.status.value
    states = widget_states()
    assert not any(code in state for state in states), "the user code outlived the sign-in"
    assert_no_secret_in(states, issued_secrets(admin))


def test_account_picker_cancel_add_account(alice, admin):
    before = set(poller_threads())
    picker = AccountPicker(alice)
    signin = picker.add_account()
    assert signin is not None
    assert picker.add_account() is None  # one at a time
    assert "already waiting" in picker.status.value
    picker.sign_in.card.cancel_button.click()
    assert signin.status == "cancelled"
    for thread in set(poller_threads()) - before:
        thread.join(timeout=1.0)
        assert not thread.is_alive()
    wait_until(lambda: "cancelled" in picker.status.value)
    assert f"{ALICE} is still current" in picker.status.value
    assert alice.account.username == ALICE
    assert picker.sign_in.widget.children == ()


# -- subscription picker ----------------------------------------------------------------------


def test_subscription_picker_lists_filters_and_chooses(alice, admin):
    chosen = []
    picker = SubscriptionPicker(alice, on_select=chosen.append)
    expected = {**seeded_subscriptions(ALICE)[CONTOSO], **seeded_subscriptions(ALICE)[FABRIKAM]}
    assert {value for _label, value in picker.select.options} == set(expected)
    assert [value for _label, value in picker.tenant_dropdown.options] == [
        ALL_TENANTS,
        CONTOSO,
        FABRIKAM,
    ]
    assert picker.use_button.disabled  # nothing selected yet

    picker.filter_box.value = "data"
    assert labels(picker.select) == [
        "   Contoso Data Science \u00b7 c0a50002-0000-4000-8000-000000000002 \u00b7 Contoso"
    ]
    assert picker.select.value == "c0a50002-0000-4000-8000-000000000002"  # the only one: selected
    picker.use_button.click()
    assert subscription_id(alice) == "c0a50002-0000-4000-8000-000000000002"
    assert [s.display_name for s in chosen] == ["Contoso Data Science"]
    assert labels(picker.select)[0].startswith("\u2713 Contoso Data Science")
    assert "Using Contoso Data Science" in picker.status.value

    picker.filter_box.value = "fab00004"  # by part of an ID
    assert [v for _l, v in picker.select.options] == ["fab00004-0000-4000-8000-000000000004"]
    picker.filter_box.value = "contoso prod"  # every word must match
    assert [v for _l, v in picker.select.options] == ["c0a50001-0000-4000-8000-000000000001"]
    picker.filter_box.value = "nothing like this"
    assert picker.select.options == () and picker.use_button.disabled
    picker.filter_box.value = ""
    assert len(picker.select.options) == 3
    assert "Contoso Data Science (current)" not in picker._repr_mimebundle_()["text/plain"]
    assert "\u2713 Contoso Data Science" in picker._repr_mimebundle_()["text/plain"]


def test_subscription_picker_tenant_choice_narrows_the_list(alice, admin):
    picker = SubscriptionPicker(alice)
    picker.tenant_dropdown.value = FABRIKAM
    assert [v for _l, v in picker.select.options] == list(seeded_subscriptions(ALICE)[FABRIKAM])
    picker.choose_tenant("contoso.example")
    assert {v for _l, v in picker.select.options} == set(seeded_subscriptions(ALICE)[CONTOSO])
    picker.tenant_dropdown.value = ALL_TENANTS
    assert len(picker.select.options) == 3


def test_subscription_picker_signs_in_to_a_tenant_inline(alice, admin):
    tenants(session=alice)
    admin.revoke(ALICE)  # Fabrikam now wants alice back
    picker = SubscriptionPicker(alice)
    assert {v for _l, v in picker.select.options} == set(seeded_subscriptions(ALICE)[CONTOSO])
    fabrikam_label = {value: label for label, value in picker.tenant_dropdown.options}[FABRIKAM]
    assert "sign-in needed" in fabrikam_label
    assert "Fabrikam (fabrikam.example) needs you to sign in again" in picker.status.value

    admin.clear_requests()
    picker.tenant_dropdown.value = FABRIKAM  # as a person picks it
    card = picker.sign_in.card
    assert card is not None and card.view.account_hint == ALICE
    code = card.view.user_code
    [devicecode] = requests_of(admin, "devicecode")
    assert FABRIKAM in devicecode["path"]
    admin.approve(ALICE, code)
    picker.sign_in.sign_in.wait(timeout=15)
    wait_until(lambda: len(picker.select.options) == 1)
    assert [v for _l, v in picker.select.options] == ["fab00004-0000-4000-8000-000000000004"]
    assert (
        "sign-in needed"
        not in {value: label for label, value in picker.tenant_dropdown.options}[FABRIKAM]
    )
    picker.use_button.click()
    assert subscription_id(alice) == "fab00004-0000-4000-8000-000000000004"
    states = widget_states()
    assert not any(code in state for state in states)
    assert_no_secret_in(states, issued_secrets(admin))


def test_pickers_hold_no_secret(alice_and_carol, admin):
    AccountPicker(alice_and_carol)
    picker = SubscriptionPicker(alice_and_carol)
    picker.filter_box.value = "fab"
    picker.select.value = picker.select.options[0][1]
    picker.use_button.click()
    assert subscription_id(alice_and_carol) is not None
    assert_no_secret_in(widget_states(), issued_secrets(admin))


def test_done_callbacks_come_from_another_thread(alice, admin):
    # Widget updates from the polling thread are what ipykernel supports; make sure the picker
    # really gets them there (not only when a test happens to call from the main thread).
    seen = []
    picker = AccountPicker(alice, on_change=lambda a: seen.append(threading.current_thread().name))
    signin = picker.add_account()
    admin.approve(CAROL, picker.sign_in.card.view.user_code)
    signin.wait(timeout=15)
    wait_until(lambda: seen)
    assert seen[0].startswith("nbauth-device-code")


def test_subscription_picker_refuses_after_an_account_switch(alice_and_carol):
    from nbauth._accounts import use_account

    picker = SubscriptionPicker(alice_and_carol)  # carol's subscriptions
    picker.select.value = picker.select.options[0][1]
    use_account(ALICE, session=alice_and_carol)
    picker.use_button.click()
    assert subscription_id(alice_and_carol) is None  # not given to alice
    assert "The current account is now alice@contoso.example" in picker.status.value
