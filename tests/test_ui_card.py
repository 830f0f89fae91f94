"""The device-code card and the badge, driven headlessly (trait values, ``Button.click()``)
through real device-code sign-ins against the emulator."""

from __future__ import annotations

import json
import threading
import time

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    poller_threads,
)

ipywidgets = pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")

from IPython.utils.capture import capture_output  # noqa: E402

from nbauth._prompt import DeviceCodePrompt  # noqa: E402
from nbauth._ui import display as ui_display  # noqa: E402
from nbauth._ui.badge import BadgeInfo, badge_text, signed_in_badge  # noqa: E402
from nbauth._ui.device_code_card import DeviceCodeCard  # noqa: E402


def start_card(nbsession, *, blocking=False, **kwargs) -> ui_display.SignInDisplay:
    shown = ui_display.start_sign_in(nbsession, blocking=blocking, ui="widgets", **kwargs)
    assert isinstance(shown.card, DeviceCodeCard)
    return shown


def wait_until(predicate, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def widget_state_text() -> str:
    """Everything a notebook would save as widget state right now."""
    return json.dumps(ipywidgets.Widget.get_manager_state(), default=str)


def fake_prompt(uri="https://microsoft.com/devicelogin") -> DeviceCodePrompt:
    return DeviceCodePrompt(
        verification_uri=uri,
        user_code="FAKE12345",
        expires_on=time.time() + 900,
        message="",
        interval=5,
    )


def test_pending_card_shows_code_link_countdown_and_cancel(nbsession, admin, emulator, shell):
    with capture_output() as captured:
        shown = start_card(nbsession)
    card, signin = shown.card, shown.signin
    view = card.view
    try:
        assert view.state == "pending"
        assert view.user_code == signin.prompt.user_code and len(view.user_code) == 9
        assert view.verification_uri == emulator["device_login_url"]
        assert view.link_href == emulator["device_login_url"]  # http on loopback: a link
        assert view.link_warning == ""
        assert view.expires_on == pytest.approx(signin.prompt.expires_on)
        assert view.blocking is False
        assert "cells that use the credential wait" in view.status
        assert card.cancel_button is not None and card.cancel_button in card.children
        bundle = card._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert signin.prompt.user_code in bundle["text/plain"]
        assert emulator["device_login_url"] in bundle["text/plain"]
        # shown once, with a display id so the outcome can replace it
        assert len(captured.outputs) == 1
        assert captured.outputs[0].transient.get("display_id")
        # the copy-and-open button is front-end code shipped beside the module
        state = view.get_state()
        assert "navigator.clipboard.writeText" in state["_esm"] and "window.open" in state["_esm"]
        assert ".nbauth-user-code" in state["_css"]
    finally:
        signin.cancel()


def test_a_fallback_notice_is_shown_in_the_card_not_printed(nbsession, admin, shell, monkeypatch):
    """A method's notice (the browser cannot be used here) goes into the card above the code."""
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")  # remote: the paste-back browser
    with capture_output() as captured:
        shown = start_card(nbsession, method="browser", open_browser=lambda url: False)
    try:
        assert captured.stdout == ""
        assert shown.card.view.kind == "device_code"
        assert shown.card.view.reason.startswith("Opening the sign-in page in a browser")
        assert "The browser sign-in cannot be used: " in shown.card.view.reason
        assert "device code instead" in shown.card.view.reason
    finally:
        shown.signin.cancel()


def test_browser_notices_are_shown_in_the_card(nbsession, admin, shell, monkeypatch):
    """A browser sign-in shows its card (page to open, paste field: tests/test_ui_paste_back.py)
    with what the method said on the way, printed nowhere else."""
    from _user_method_fixtures import FakeBrowser

    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")
    browser = FakeBrowser(ALICE, do_nothing=True)
    with capture_output() as captured:
        shown = start_card(nbsession, method="browser", open_browser=browser)
    try:
        assert captured.stdout == ""
        [card_output] = captured.outputs
        assert shown.card.view.kind == "browser"
        assert shown.card.view.reason == "Opening the sign-in page in a browser on this machine..."
        assert browser.urls[0] in card_output.data["text/plain"]
    finally:
        shown.signin.cancel()


def test_blocking_card_has_stop_button_hint_instead_of_cancel(nbsession, admin, shell):
    shown = start_card(nbsession, blocking=True)
    try:
        assert shown.card.cancel_button is None
        assert len(shown.card.children) == 1
        assert "stop button" in shown.card.view.status or "Ctrl-C" in shown.card.view.status
        assert shown.card.view.blocking is True
    finally:
        shown.signin.cancel()


def test_success_collapses_to_badge_and_clears_the_code(nbsession, admin, shell):
    with capture_output() as captured:
        shown = start_card(nbsession, account_hint=ALICE)
        card, signin = shown.card, shown.signin
        code = signin.prompt.user_code
        assert card.view.account_hint == ALICE
        admin.approve(ALICE, code)
        signin.wait(timeout=15)
        shown.finish(signin)  # idempotent: the done callback may have done it already
    assert card.view.user_code == ""
    assert card.view.state == "succeeded"
    assert card.children == (card.badge,)
    assert card.cancel_button is None
    assert ALICE in card.badge.value and "device code" in card.badge.value
    text = card._repr_mimebundle_()["text/plain"]
    assert text.startswith(f"Signed in as {ALICE}")
    assert "token valid until" in text
    assert code not in text
    # the outcome replaced the pending output, under the same display id
    updates = [o for o in captured.outputs if o.update]
    assert len(updates) == 1
    assert updates[0].transient["display_id"] == captured.outputs[0].transient["display_id"]
    assert code not in updates[0].data["text/plain"]
    assert code not in widget_state_text()
    assert_no_secret_in(
        [widget_state_text(), captured.stdout, *(json.dumps(o.data) for o in captured.outputs)],
        issued_secrets(admin),
    )


def test_cancel_click_stops_the_polling_thread_within_a_second(nbsession, admin, shell):
    before = len(threading.enumerate())
    shown = start_card(nbsession)
    card, signin = shown.card, shown.signin
    assert len(poller_threads()) == 1
    poller = poller_threads()[0]
    card.cancel_button.click()
    poller.join(timeout=1.0)
    assert not poller.is_alive()
    assert signin.status == "cancelled"
    assert card.view.state == "cancelled"
    assert card.view.user_code == ""
    assert card.view.status == "Sign-in cancelled."
    assert card.cancel_button is None
    assert card._repr_mimebundle_()["text/plain"] == "Sign-in cancelled."
    assert len(threading.enumerate()) == before


def test_cancel_says_who_is_still_signed_in(nbsession, admin, shell):
    first = ui_display.start_sign_in(nbsession, blocking=False, ui="widgets")
    admin.approve(ALICE, first.signin.prompt.user_code)
    first.signin.wait(timeout=15)
    shown = start_card(nbsession)
    shown.card.cancel_button.click()
    assert shown.card.view.status == f"Sign-in cancelled. {ALICE} is still signed in."
    assert nbsession.account.username == ALICE


def test_declined(nbsession, admin, shell):
    shown = start_card(nbsession)
    admin.decline(shown.signin.prompt.user_code)
    wait_until(lambda: shown.card.view.state != "pending")
    assert shown.card.view.state == "declined"
    assert "declined" in shown.card.view.status
    assert "%azlogin" in shown.card.view.status  # says what to do next
    assert shown.card.view.user_code == ""


def test_expired(nbsession, admin, shell):
    shown = start_card(nbsession)
    admin.expire(shown.signin.prompt.user_code)
    wait_until(lambda: shown.card.view.state != "pending")
    assert shown.card.view.state == "expired"
    assert "expired" in shown.card.view.status
    assert shown.card.view.user_code == ""


def test_failed_shows_entra_error_in_plain_language(nbsession, admin, shell):
    admin.fault(
        "token",
        status=400,
        body={
            "error": "invalid_client",
            "error_description": "AADSTS700016: Application with identifier 'x' was not found.",
            "error_codes": [700016],
        },
        count=1,
    )
    shown = start_card(nbsession)
    wait_until(lambda: shown.card.view.state != "pending")
    assert shown.card.view.state == "failed"
    assert "AADSTS700016" in shown.card.view.status
    assert shown.card.view.user_code == ""


def test_unsafe_verification_uri_is_text_with_a_warning():
    card = DeviceCodeCard(fake_prompt("javascript:alert(1)"), blocking=True)
    assert card.view.verification_uri == "javascript:alert(1)"
    assert card.view.link_href == ""
    assert "not a secure (https) page" in card.view.link_warning
    card.dispose()


def test_dispose_removes_everything_and_clears_the_code():
    card = DeviceCodeCard(fake_prompt(), blocking=False)
    view, button = card.view, card.cancel_button
    card.dispose()
    assert view.user_code == ""
    assert view.comm is None and button.comm is None and card.comm is None


def test_badge_widget_and_text():
    info = BadgeInfo(
        username="<b>alice</b>@contoso.example",
        tenant_id="t-1",
        method="device_code",
        expires_on=time.time() + 3600,
    )
    badge = signed_in_badge(info)
    assert "&lt;b&gt;alice&lt;/b&gt;" in badge.value and "<b>alice</b>" not in badge.value
    assert badge._repr_mimebundle_()["text/plain"] == badge_text(info)
    assert badge_text(info).startswith("Signed in as <b>alice</b>@contoso.example · tenant t-1")
    badge.close()
