"""Faults around the browser sign-in finished by pasting back the address (issue 12).

On a remote kernel (``NBAUTH_KERNEL_LOCATION=remote``): the token endpoint failing while the
pasted address is redeemed (a 5xx, a timeout), a code redeemed after its 10 minutes, a tenant
whose Conditional Access refuses device code (``auto``, and the kernel remembering it), and the
setting that makes the browser the person's way in (``NBAUTH_PERSON_METHOD``). Each asserts one
clear error in words, a sign-in that is still pending and can still be finished, and the
requests the emulator saw. The person is `EmulatorAdmin`: ``approve`` on the device-login page,
``pick_account`` on the browser's sign-in page.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from _audit_fixtures import assert_no_leak, device_code_polls, token_calls
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    CONTOSO,
    FABRIKAM,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
)

from nbauth import BrowserPrompt, ConfigurationError, DeviceCodePrompt, NbauthError
from nbauth._errors import AuthenticationError, EntraError

AUTH_CODE = "authorization_code"


@pytest.fixture
def remote_kernel(monkeypatch):
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")


def signed_in_elsewhere(admin, signin, username: str = ALICE) -> str:
    """The person opens the sign-in page, picks an account; the address the browser ends on."""
    assert isinstance(signin.prompt, BrowserPrompt), signin.prompt
    return admin.pick_account(signin.prompt.verification_uri, username)


def code_of(address: str) -> str:
    return parse_qs(urlsplit(address).query)["code"][0]


def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Person:
    """A prompt callback: the person approves each device code shown (on the device-login page,
    from another thread, as a person would) and reads every other prompt."""

    def __init__(self, admin, username: str = ALICE) -> None:
        self.admin, self.username = admin, username
        self.prompts: list[object] = []

    def __call__(self, prompt) -> None:
        self.prompts.append(prompt)
        if isinstance(prompt, DeviceCodePrompt):
            threading.Thread(
                target=self.admin.approve,
                args=(self.username, prompt.user_code),
                name="test-person",
            ).start()


def switched_to_the_browser(signin) -> BrowserPrompt:
    wait_for(lambda: isinstance(signin.prompt, BrowserPrompt) or signin.done(), "the switch")
    assert isinstance(signin.prompt, BrowserPrompt), (signin, signin.error)
    return signin.prompt


def assert_one_clear_sentence(error: BaseException, admin, address: str) -> None:
    text = str(error)
    assert isinstance(error, NbauthError), type(error).__mro__
    assert "\n" not in text.strip() and len(text) < 400, text
    assert code_of(address) not in text
    assert_no_leak([text, repr(error)], admin, "the error", kinds_expected=["code_verifiers"])


# -- the token endpoint fails while the pasted address is redeemed ------------------------------


def test_a_server_error_while_redeeming_is_one_clear_error_and_the_sign_in_waits(
    nbsession, admin, remote_kernel
):
    """An HTTP 500 from the token endpoint: one sentence (not msal's 'HTTP Error: 500'), the
    sign-in still pending; once the server's Retry-After has passed, the same address finishes
    it (msal answers a 5xx from its own cache until then)."""
    signin = nbsession.login("browser", wait=False, prompt=lambda p: None)
    address = signed_in_elsewhere(admin, signin)
    admin.fault("token", status=500, body={"error": "server_error"}, headers={"Retry-After": "1"})

    with pytest.raises(AuthenticationError) as caught:
        signin.complete(address)

    assert "server error" in str(caught.value) and "try again" in str(caught.value)
    assert signin.status == "pending"
    time.sleep(1.1)  # the server's Retry-After: msal answers from its cache until then
    assert signin.complete(address).username == ALICE
    assert [r["status"] for r in token_calls(admin, AUTH_CODE)] == [500, 200]
    assert_one_clear_sentence(caught.value, admin, address)


def test_a_token_endpoint_that_does_not_answer_is_one_clear_error_and_the_sign_in_waits(
    nbsession, admin, remote_kernel, monkeypatch
):
    """No answer within the bound: said in words; the request may have used the code (it did:
    the emulator answers late), so the person signs in on the page again and pastes the new
    address into the same sign-in."""
    monkeypatch.setenv("NBAUTH_HTTP_TIMEOUT", "1")
    signin = nbsession.login("browser", wait=False, prompt=lambda p: None)
    address = signed_in_elsewhere(admin, signin)
    admin.fault("token", delay_s=2.5)

    with pytest.raises(AuthenticationError) as caught:
        signin.complete(address)

    assert "did not answer within 1 s" in str(caught.value)
    assert signin.status == "pending"
    again = signed_in_elsewhere(admin, signin)
    assert signin.complete(again).username == ALICE
    assert nbsession.account.username == ALICE
    assert_one_clear_sentence(caught.value, admin, address)


def test_a_code_redeemed_after_ten_minutes_is_refused_in_words_and_the_sign_in_waits(
    nbsession, admin, remote_kernel
):
    signin = nbsession.login("browser", wait=False, prompt=lambda p: None)
    address = signed_in_elsewhere(admin, signin)
    admin.advance_clock(601)  # Entra's codes live 10 minutes

    with pytest.raises(EntraError) as caught:
        signin.complete(address)

    assert caught.value.aadsts == 70008
    assert "AADSTS70008" in str(caught.value) and "expired" in str(caught.value)
    assert "open its sign-in page again" in caught.value.guidance  # it waits: no new %azlogin
    assert signin.status == "pending"
    assert signin.complete(signed_in_elsewhere(admin, signin)).username == ALICE
    assert_no_leak([str(caught.value), repr(caught.value)], admin, "the refusal")


# -- Conditional Access refuses device code -----------------------------------------------------


def test_auto_goes_on_in_the_browser_when_the_tenant_refuses_device_code(
    nbsession, admin, remote_kernel
):
    """``auto`` ends in a device code; the person signs in on the device-login page and the
    tenant refuses (AADSTS53003): the same sign-in switches to the browser, says why, and the
    pasted address finishes it."""
    admin.settings(block_device_code=True)
    person = Person(admin)

    signin = nbsession.login("auto", wait=False, prompt=person)
    prompt = switched_to_the_browser(signin)

    assert isinstance(person.prompts[0], DeviceCodePrompt) and person.prompts[-1] is prompt
    assert "AADSTS53003" in prompt.reason and "browser" in prompt.reason
    assert signin.status == "pending" and signin.report.chosen == "device_code"
    account = signin.complete(signed_in_elsewhere(admin, signin))
    assert account.username == ALICE and signin.wait() == account
    assert nbsession.account.username == ALICE
    assert [p["status"] for p in device_code_polls(admin)][-1] == 400  # the refusal
    assert [r["status"] for r in token_calls(admin, AUTH_CODE)] == [200]


def test_the_kernel_remembers_the_tenant_that_refused_device_code(nbsession, admin, remote_kernel):
    """After one refusal, a device-code sign-in to that tenant is a browser sign-in at once, with
    no device-code request; another tenant still gets its device code."""
    admin.settings(block_device_code=[CONTOSO])
    first = nbsession.login("device_code", tenant=CONTOSO, wait=False, prompt=Person(admin))
    switched_to_the_browser(first)
    first.cancel()
    admin.clear_requests()

    again = nbsession.login("device_code", tenant=CONTOSO, wait=False, prompt=lambda p: None)

    assert isinstance(again.prompt, BrowserPrompt)
    assert "earlier" in again.prompt.reason and "Conditional Access" in again.prompt.reason
    assert [r for r in admin.requests() if r["endpoint"] == "devicecode"] == []
    assert again.complete(signed_in_elsewhere(admin, again)).username == ALICE
    other = nbsession.login("device_code", tenant=FABRIKAM, wait=False, prompt=lambda p: None)
    assert isinstance(other.prompt, DeviceCodePrompt)
    other.cancel()


# -- the person's method, set by an admin ---------------------------------------------------------


def test_person_method_browser_makes_autos_person_step_the_browser(
    nbsession, admin, remote_kernel, monkeypatch
):
    monkeypatch.setenv("NBAUTH_PERSON_METHOD", "browser")
    prompts: list[object] = []

    signin = nbsession.login("auto", wait=False, prompt=prompts.append)

    assert isinstance(signin.prompt, BrowserPrompt) and prompts == [signin.prompt]
    assert signin.report.chosen == "device_code"  # the chain's person step, done in the browser
    assert signin.complete(signed_in_elsewhere(admin, signin, BOB)).username == BOB
    assert [r for r in admin.requests() if r["endpoint"] == "devicecode"] == []


def test_person_method_browser_leaves_a_local_kernel_its_device_code(nbsession, admin, monkeypatch):
    """A kernel on the person's machine opens the browser itself with ``--method browser``; the
    setting is for remote kernels, where a device code is the only other way in."""
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")
    monkeypatch.setenv("NBAUTH_PERSON_METHOD", "browser")

    signin = nbsession.login("auto", wait=False, prompt=lambda p: None)

    assert isinstance(signin.prompt, DeviceCodePrompt)
    signin.cancel()


@pytest.mark.parametrize("value", ["devicecode", "Browser please", "1"])
def test_a_bad_person_method_is_one_configuration_error_naming_the_variable(
    nbsession, admin, remote_kernel, monkeypatch, value
):
    monkeypatch.setenv("NBAUTH_PERSON_METHOD", value)

    with pytest.raises(ConfigurationError) as caught:
        nbsession.login("auto", wait=False, prompt=lambda p: None)

    text = str(caught.value)
    assert "NBAUTH_PERSON_METHOD" in text and "'browser'" in text
    assert "\n" not in text and value not in text
    assert nbsession.pending is None
    assert [r for r in admin.requests() if r["endpoint"] == "devicecode"] == []
