"""The browser sign-in finished by pasting back the address, in the card and as text (issue 12).

The card is driven headlessly: its field's message arrives through the view's comm, as ipykernel
delivers a front end's ``model.send({type: "paste", address})``; the address is the one a
browser ends on after signing in on the emulator's page (`FakeBrowser` with ``follow=False``:
nothing listens on a remote kernel's localhost). Device code is blocked with the emulator's
Conditional Access (``block_device_code``): the same card switches to the browser view and the
blocking ``%azlogin`` cell returns. The text fallback reads the address through ``getpass`` (the
terminal boundary, replaced here by a function that types it).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
)
from _service_fixtures import service_env_fixture  # noqa: F401 - registers `service_env`
from _user_method_fixtures import FakeBrowser, arm_subscription_ids

ipywidgets = pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")

from IPython.utils.capture import capture_output  # noqa: E402
from traitlets import TraitError  # noqa: E402
from traitlets.config import Config  # noqa: E402

from nbauth._magics import LoginMagics  # noqa: E402
from nbauth._prompt import BrowserPrompt  # noqa: E402
from nbauth._ui import display as ui_display  # noqa: E402
from nbauth._ui import waiting  # noqa: E402
from nbauth._ui.account_picker import AccountPicker  # noqa: E402
from nbauth._ui.device_code_card import DeviceCodeCard  # noqa: E402

REFUSED = "This organization does not allow signing in with a device code"


@pytest.fixture
def remote_kernel(monkeypatch):
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")


def wait_until(predicate, timeout=15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def wait_until_card_ended(card: DeviceCodeCard, signin) -> None:
    """Until `signin` ended and its card shows it: the done callback that turns the card runs
    on the thread that finished the sign-in, just after ``signin.done()`` turns true."""
    wait_until(signin.done)
    if signin.status == "succeeded":
        wait_until(lambda: card.view.comm is None)  # the badge took its place: the last step
    else:
        wait_until(lambda: card.children == (card.view,))  # Cancel went: the last step


def widget_state_text() -> str:
    """Everything a notebook would save as widget state right now."""
    return json.dumps(ipywidgets.Widget.get_manager_state(), default=str)


def paste(card: DeviceCodeCard, address: str) -> None:
    """What the front end's field does: one custom message on the view's comm, handled the way
    ipykernel hands a ``comm_msg`` to the widget."""
    comm = card.view.comm
    comm.handle_msg(
        {
            "content": {
                "comm_id": comm.comm_id,
                "data": {"method": "custom", "content": {"type": "paste", "address": address}},
            },
            "buffers": [],
        }
    )


def signed_in_elsewhere(verification_uri: str, username: str = ALICE) -> str:
    browser = FakeBrowser(username, follow=False)
    browser(verification_uri)
    assert browser.ended_on is not None
    return browser.ended_on


def with_fields(address: str, **changes: str) -> str:
    parts = urlsplit(address)
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    fields.update(changes)
    return urlunsplit(parts._replace(query=urlencode(fields)))


def code_of(address: str) -> str:
    return parse_qs(urlsplit(address).query)["code"][0]


def start_browser_card(nbsession, **kwargs) -> ui_display.SignInDisplay:
    shown = ui_display.start_sign_in(
        nbsession, blocking=False, ui="widgets", method="browser", **kwargs
    )
    assert isinstance(shown.card, DeviceCodeCard)
    return shown


def assert_nothing_holds(admin, texts: list[str], *addresses: str) -> None:
    """No text holds an authorization code the emulator issued, or a pasted address."""
    codes = admin.issued()["authorization_codes"]
    assert codes, "the emulator issued no authorization code; the check would be vacuous"
    for text in texts:
        for value in [*codes, *addresses]:
            assert value not in text, "a pasted address or its code reached saved state/output"


def widget_of(output):
    model_id = output.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    return ipywidgets.widget_serialization["from_json"](f"IPY_MODEL_{model_id}", None)


# -- the card ------------------------------------------------------------------------------------


def test_remote_browser_card_shows_open_page_and_one_field(nbsession, admin, shell, remote_kernel):
    with capture_output() as captured:
        shown = start_browser_card(nbsession)
    card, signin = shown.card, shown.signin
    try:
        prompt = signin.prompt
        assert isinstance(prompt, BrowserPrompt)
        view = card.view
        assert view.kind == "browser" and view.state == "pending"
        assert view.user_code == ""
        assert view.verification_uri == prompt.verification_uri
        assert view.link_href == prompt.verification_uri  # https on loopback: a link to open
        port = urlsplit(prompt.redirect_uri).port
        assert view.paste_hint == (
            f"After you sign in, your browser shows a page that cannot be reached at "
            f"localhost:{port}. Copy the whole address from the address bar and paste it here."
        )
        assert view.paste_error == "" and view.checking is False
        assert view.expires_on == pytest.approx(prompt.expires_on)
        # The kernel is idle while the card waits: Cancel works, no stop-button hint.
        assert card.cancel_button is not None and view.blocking is False
        assert "cells that use the credential wait" in view.status
        [shown_output] = captured.outputs
        assert prompt.verification_uri in shown_output.data["text/plain"]
        esm = view.get_state()["_esm"]
        assert "Open sign-in page" in esm and 'model.send({ type: "paste", address })' in esm
        assert 'pasteInput.value = "";' in esm  # the field is emptied as it is sent
    finally:
        signin.cancel()


def test_pasted_address_completes_the_sign_in_and_the_card_becomes_the_badge(
    nbsession, admin, shell, remote_kernel
):
    with capture_output() as captured:
        shown = start_browser_card(nbsession)
        card, signin = shown.card, shown.signin
        address = signed_in_elsewhere(card.view.verification_uri)
        assert signin.status == "pending"
        paste(card, address)
        wait_until(signin.done)
        shown.finish(signin)  # idempotent: the done callback did it
    assert signin.status == "succeeded" and nbsession.account.username == ALICE
    assert card.children == (card.badge,) and ALICE in card.badge.value
    assert card.view.state == "succeeded" and card.cancel_button is None
    assert arm_subscription_ids(nbsession.credential())
    outputs = [json.dumps(o.data) for o in captured.outputs]
    assert_nothing_holds(admin, [widget_state_text(), captured.stdout, *outputs], address)
    assert_no_secret_in([widget_state_text(), *outputs], issued_secrets(admin))


def test_a_wrong_address_is_one_line_and_the_card_keeps_waiting(
    nbsession, admin, shell, remote_kernel
):
    shown = start_browser_card(nbsession)
    card, signin = shown.card, shown.signin
    address = signed_in_elsewhere(card.view.verification_uri)
    wrong = with_fields(address, state="another-sign-ins-state")
    paste(card, wrong)
    wait_until(lambda: not card.view.checking)
    assert card.view.paste_error.startswith("That address is the answer to another sign-in")
    assert "\n" not in card.view.paste_error
    assert signin.status == "pending" and card.view.state == "pending"
    assert card.view.checking is False and card.view.kind == "browser"
    # Nothing the notebook would save holds the refused address or its code.
    assert_nothing_holds(admin, [widget_state_text(), json.dumps(card.view.get_state())], wrong)
    paste(card, "hello, not an address")
    wait_until(lambda: not card.view.checking)
    assert card.view.paste_error.startswith("That is not an address.")
    assert "hello" not in card.view.paste_error
    paste(card, address)  # the right one still works
    wait_until_card_ended(card, signin)
    assert signin.status == "succeeded"
    assert card.view.paste_error == ""
    assert_nothing_holds(admin, [widget_state_text()], wrong, address)


def test_the_kernel_is_not_held_while_the_address_is_redeemed(
    nbsession, admin, shell, remote_kernel
):
    """The message handler returns before the token request is answered (it runs in its own
    thread); a second paste meanwhile is told to wait, not redeemed twice."""
    shown = start_browser_card(nbsession)
    card, signin = shown.card, shown.signin
    address = signed_in_elsewhere(card.view.verification_uri)
    admin.fault("token", delay_s=2, count=1)
    paste(card, address)
    assert card.view.checking is True and signin.status == "pending"
    paste(card, address)
    assert card.view.paste_error == "Still checking the address pasted before; wait a moment."
    wait_until(signin.done)
    assert signin.status == "succeeded"
    grants = [r.get("grant_type") for r in admin.requests() if r.get("endpoint") == "token"]
    assert grants.count("authorization_code") == 1  # the second paste was not redeemed


def test_declined_in_the_browser_ends_the_card(nbsession, admin, shell, remote_kernel):
    shown = start_browser_card(nbsession)
    card, signin = shown.card, shown.signin
    browser = FakeBrowser(ALICE, action="decline", follow=False)
    browser(card.view.verification_uri)
    paste(card, browser.ended_on)
    wait_until_card_ended(card, signin)
    assert signin.status == "declined" and card.view.state == "declined"
    assert card.view.status.startswith("The sign-in was declined in the browser.")
    assert card.view.paste_error == ""


def test_a_message_that_is_not_a_paste_is_ignored(nbsession, admin, shell, remote_kernel):
    shown = start_browser_card(nbsession)
    card, signin = shown.card, shown.signin
    try:
        comm = card.view.comm
        for content in ({"type": "other", "address": "x"}, ["paste"], {"type": "paste"}):
            comm.handle_msg(
                {
                    "content": {
                        "comm_id": comm.comm_id,
                        "data": {"method": "custom", "content": content},
                    },
                    "buffers": [],
                }
            )
        wait_until(lambda: not card.view.checking)
        assert signin.status == "pending"
        # only the paste without an address was read, and refused in one line
        assert card.view.paste_error.startswith("Paste the whole address")
    finally:
        signin.cancel()


def test_local_browser_card_has_the_field_and_the_listener_finishes_it(
    nbsession, admin, shell, monkeypatch
):
    """A local kernel catches the answer itself; the card still offers the field (for
    port-forwarded setups) and carries the method's notice."""
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")
    browser = FakeBrowser(ALICE, do_nothing=True)
    with capture_output() as captured:
        shown = start_browser_card(nbsession, open_browser=browser)
    card, signin = shown.card, shown.signin
    assert captured.stdout == ""
    assert card.view.kind == "browser" and card.view.paste_hint
    assert card.view.reason == "Opening the sign-in page in a browser on this machine..."
    assert browser.urls == [card.view.verification_uri]
    FakeBrowser(ALICE)(browser.urls[0])  # the browser reaches the kernel's listener
    wait_until_card_ended(card, signin)
    assert signin.status == "succeeded" and card.children == (card.badge,)


# -- device code refused: the same card switches ------------------------------------------------


class Person(threading.Thread):
    """Signs in on the device-login page for the next code shown (the page then refuses it)."""

    def __init__(self, admin, username: str = ALICE) -> None:
        super().__init__(daemon=True, name="test-person")
        self.admin, self.username = admin, username
        self.answers: list[dict] = []

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.answers:
            pending = self.admin.pending()
            if pending:
                self.answers.append(self.admin.approve(self.username, pending[-1]["user_code"]))
            time.sleep(0.05)


def test_refused_device_code_switches_the_same_card_and_the_blocking_cell_returns(
    nbsession, admin, shell, magics, remote_kernel
):
    admin.settings(block_device_code=True)
    magics.ui = "widgets"
    person = Person(admin)
    person.start()
    with capture_output() as captured:
        result = shell.run_cell("%azlogin --method device_code")
    person.join(20)
    assert [a.get("status") for a in person.answers] == ["blocked"]
    # The cell ended without waiting for the browser sign-in: it is pending, in the card.
    assert result.success, captured.stdout + captured.stderr
    signin = nbsession.pending
    assert signin is not None and signin.status == "pending" and signin.method == "device_code"
    [shown] = captured.outputs  # one card, switched in place, no second rendering
    card = widget_of(shown)
    assert card.view.kind == "browser" and card.view.user_code == ""
    assert card.view.reason.startswith(REFUSED) and "AADSTS53003" in card.view.reason
    assert card.cancel_button is not None and card.view.blocking is False
    assert "stop button" not in card.view.status
    credential = shell.user_ns["credential"]
    address = signed_in_elsewhere(card.view.verification_uri)
    paste(card, address)
    wait_until_card_ended(card, signin)
    assert signin.status == "succeeded" and card.children == (card.badge,)
    assert arm_subscription_ids(credential)
    assert_nothing_holds(admin, [widget_state_text(), json.dumps(shown.data)], address)


def test_refused_device_code_in_the_account_picker_switches_its_card(
    nbsession, admin, shell, remote_kernel
):
    admin.settings(block_device_code=True)
    picker = AccountPicker(nbsession)
    signin = picker.add_account()
    card = picker.sign_in.card
    assert card.view.kind == "device_code"
    answer = admin.approve(ALICE, signin.prompt.user_code)
    assert answer["status"] == "blocked"
    wait_until(lambda: card.view.paste_hint != "")  # set after the rest of the switch
    assert card.view.kind == "browser"
    assert picker.sign_in.widget.children == (card,)  # the same card, not a second one
    assert card.view.reason.startswith(REFUSED)
    paste(card, signed_in_elsewhere(card.view.verification_uri))
    wait_until(signin.done)
    assert signin.status == "succeeded"
    wait_until(lambda: "Signed in as" in picker.status.value)
    assert picker.sign_in.widget.children == ()


def test_a_switched_card_can_be_cancelled_and_says_how_it_ended(
    nbsession, admin, shell, remote_kernel
):
    """A blocking card (stop-button hint) that switches to the browser gets a Cancel button:
    the cell no longer waits, so the card, not the cell, says how the sign-in ended."""
    admin.settings(block_device_code=True)
    shown = ui_display.start_sign_in(nbsession, blocking=True, ui="widgets")
    card, signin = shown.card, shown.signin
    assert card.cancel_button is None and card.view.blocking is True
    assert admin.approve(ALICE, signin.prompt.user_code)["status"] == "blocked"
    wait_until(shown.awaiting_paste.is_set)  # set once the card switched
    assert card.view.kind == "browser" and shown.blocking is False
    card.cancel_button.click()
    assert signin.status == "cancelled"
    assert card.view.state == "cancelled" and card.view.status == "Sign-in cancelled."
    assert card.children == (card.view,)


# -- the admin setting --------------------------------------------------------------------------


def test_person_method_setting_sends_auto_to_the_browser_on_a_remote_kernel(
    nbsession, admin, shell, service_env, remote_kernel
):
    config = Config()
    config.LoginMagics.person_method = "Browser"
    magics = LoginMagics(shell=shell, session=nbsession, config=config, ui="widgets")
    assert magics.person_method == "browser"
    shell.register_magics(magics)
    try:
        with capture_output() as captured:
            result = shell.run_cell("%azlogin")
        assert result.success, captured.stdout + captured.stderr
        assert nbsession.person_method == "browser"
        signin = nbsession.pending
        assert signin is not None and signin.method == "browser"
        card = widget_of(captured.outputs[-1])
        assert card.view.kind == "browser"
        assert admin.pending() == []  # no device code was asked for
        signin.cancel()
        config.LoginMagics.person_method = "carrier-pigeon"
        with pytest.raises(TraitError):
            LoginMagics(shell=shell, session=nbsession, config=config)
        magics.person_method = ""
        magics.ui = "text"
        with capture_output():
            shell.run_cell("%azlogin --method device_code --no-wait")
        assert nbsession.person_method is None  # '' leaves it to $NBAUTH_PERSON_METHOD
    finally:
        shell.user_ns.pop("credential", None)
        if nbsession.pending is not None:
            nbsession.pending.cancel()


# -- text: the address from stdin, hidden -------------------------------------------------------


class Terminal:
    """A terminal's stdin (``isatty``) and ``getpass``: types each answer in turn; an answer
    may be a callable (run when asked: the person signs in in the browser first)."""

    def __init__(self, monkeypatch, *answers) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        monkeypatch.setattr(sys, "stdin", self)
        monkeypatch.setattr("getpass.getpass", self.getpass)

    def isatty(self) -> bool:
        return True

    def getpass(self, prompt: str = "Password: ", stream=None) -> str:
        self.prompts.append(prompt)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer


def browser_answer(nbsession, **changes):
    def answer() -> str:
        address = signed_in_elsewhere(nbsession.pending.prompt.verification_uri)
        answer.address = address
        return with_fields(address, **changes) if changes else address

    return answer


def test_text_fallback_reads_the_address_hidden_and_finishes(
    nbsession, admin, shell, magics, remote_kernel, monkeypatch
):
    magics.ui = "text"
    wrong = browser_answer(nbsession, state="another-sign-ins-state")
    terminal = Terminal(monkeypatch, wrong, "garbage", lambda: wrong.address)
    with capture_output() as captured:
        result = shell.run_cell("%azlogin --method browser")
    assert result.success, captured.stdout + captured.stderr
    assert nbsession.account.username == ALICE
    assert terminal.prompts == [waiting.PASTE_PROMPT] * 3
    lines = captured.stdout.splitlines()
    assert any(line.startswith("Open this page in your browser and sign in: ") for line in lines)
    # each refusal in one line
    assert "That address is the answer to another sign-in" in captured.stdout
    assert "That is not an address." in captured.stdout
    assert any(line.startswith(f"Signed in as {ALICE}") for line in lines)
    history = "\n".join(shell.user_ns.get("_ih", []))
    assert_nothing_holds(admin, [captured.stdout, captured.stderr, history], wrong.address)


def test_text_fallback_after_a_refused_device_code_asks_for_the_address(
    nbsession, admin, shell, magics, remote_kernel, monkeypatch
):
    admin.settings(block_device_code=True)
    magics.ui = "text"
    person = Person(admin)
    person.start()
    answer = browser_answer(nbsession)
    terminal = Terminal(monkeypatch, answer)
    with capture_output() as captured:
        result = shell.run_cell("%azlogin --method device_code")
    person.join(20)
    assert [a.get("status") for a in person.answers] == ["blocked"]
    assert result.success, captured.stdout + captured.stderr
    assert nbsession.account.username == ALICE and terminal.prompts == [waiting.PASTE_PROMPT]
    lines = captured.stdout.splitlines()
    assert lines[0].startswith("To sign in, open ")  # the device code first
    assert any(line.startswith(REFUSED) for line in lines)  # then why, in one line
    assert any(line.startswith("Open this page in your browser") for line in lines)
    assert_nothing_holds(admin, [captured.stdout, captured.stderr], answer.address)


def test_text_fallback_waits_where_nobody_can_type(nbsession, admin, shell, remote_kernel):
    """No terminal (nbclient, a pipe): the address is printed, nothing is read, and the sign-in
    still finishes from Python (`SignIn.complete`)."""
    assert not sys.stdin.isatty()

    def person() -> None:
        wait_until(lambda: nbsession.pending is not None)
        signin = nbsession.pending
        signin.complete(signed_in_elsewhere(signin.prompt.verification_uri))

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    with capture_output() as captured:
        signin = ui_display.sign_in(nbsession, wait=True, ui="text", method="browser")
    thread.join(15)
    assert signin.status == "succeeded"
    assert "Open this page in your browser and sign in: " in captured.stdout
    assert waiting.PASTE_PROMPT not in captured.stdout


def test_ctrl_c_at_the_address_prompt_cancels(
    nbsession, admin, shell, magics, remote_kernel, monkeypatch
):
    from nbauth import SignInCancelled

    magics.ui = "text"
    Terminal(monkeypatch, KeyboardInterrupt())
    with capture_output():
        result = shell.run_cell("%azlogin --method browser")
    assert isinstance(result.error_in_exec, SignInCancelled)
    assert nbsession.pending is None and nbsession.account is None


def test_too_many_refused_addresses_cancel_the_sign_in(
    nbsession, admin, shell, magics, remote_kernel, monkeypatch
):
    from nbauth import SignInCancelled

    magics.ui = "text"
    terminal = Terminal(monkeypatch, *["nope"] * waiting.MAX_PASTES)
    with capture_output() as captured:
        result = shell.run_cell("%azlogin --method browser")
    assert isinstance(result.error_in_exec, SignInCancelled)
    assert len(terminal.prompts) == waiting.MAX_PASTES
    assert captured.stdout.count("That is not an address.") == waiting.MAX_PASTES
    assert f"{waiting.MAX_PASTES} addresses were refused" in captured.stdout
