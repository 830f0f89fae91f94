"""Device-code sign-in through a fresh Session, against the real emulator with real msal."""

from __future__ import annotations

import _thread
import threading

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    poller_threads,
    sign_in,
    token_requests,
)

from nbauth._errors import (
    AuthenticationError,
    ConfigurationError,
    EntraError,
    SignInCancelled,
    SignInDeclined,
    SignInExpired,
    SignInTimeout,
)
from nbauth._prompt import DeviceCodePrompt


def device_polls(admin) -> list[dict]:
    return token_requests(admin, "urn:ietf:params:oauth:grant-type:device_code")


def test_wait_true_completes_when_approved_from_another_thread(nbsession, admin, emulator):
    shown: list[DeviceCodePrompt] = []

    def prompt(p: DeviceCodePrompt) -> None:
        shown.append(p)
        approving_prompt(admin, ALICE, in_thread=True)(p)

    signin = nbsession.login(prompt=prompt)

    assert signin.status == "succeeded" and signin.done()
    account = signin.account
    assert account.username == ALICE
    assert account.method == "device_code"
    assert account.home_account_id.endswith(account.home_tenant_id)
    assert account.authority == emulator["authority_host"] + "/organizations"
    assert nbsession.account == account
    [p] = shown
    assert p.verification_uri == emulator["device_login_url"]
    assert len(p.user_code) == 9 and p.user_code in p.message
    assert p.interval == 1 and p.expires_in > 0
    assert signin.wait() == account  # wait() on a finished sign-in returns at once


def test_default_prompt_prints_the_message_and_never_the_device_code(nbsession, admin, capsys):
    def approve_when_shown() -> None:
        # The default prompt prints; approve the newest pending code once it exists.
        for _ in range(100):
            if admin.pending():
                admin.approve(ALICE)
                return
            threading.Event().wait(0.05)

    approver = threading.Thread(target=approve_when_shown)
    approver.start()
    signin = nbsession.login()
    approver.join()

    out = capsys.readouterr().out
    assert signin.prompt.user_code in out and signin.prompt.verification_uri in out
    assert_no_secret_in([out, repr(signin), repr(signin.prompt)], issued_secrets(admin))


def test_wait_false_returns_pending_with_prompt_then_wait_returns_account(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)

    assert signin.status == "pending" and not signin.done()
    assert signin.prompt is not None and len(signin.prompt.user_code) == 9
    assert nbsession.pending is signin
    admin.approve(BOB, signin.prompt.user_code)
    account = signin.wait(timeout=30)
    assert account.username == BOB
    assert nbsession.account == account and nbsession.pending is None


def test_declined_raises_sign_in_declined(nbsession, admin):
    def prompt(p):
        admin.decline(p.user_code)

    with pytest.raises(SignInDeclined) as caught:
        nbsession.login(prompt=prompt)

    assert "%azlogin" in str(caught.value)
    assert nbsession.account is None


def test_declined_status_on_a_wait_false_sign_in(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    admin.decline(signin.prompt.user_code)
    with pytest.raises(SignInDeclined):
        signin.wait(timeout=30)
    assert signin.status == "declined"
    assert isinstance(signin.error, SignInDeclined) and signin.account is None


def test_expired_code_raises_sign_in_expired(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    admin.expire(signin.prompt.user_code)

    with pytest.raises(SignInExpired) as caught:
        signin.wait(timeout=30)

    assert signin.status == "expired"
    assert "expired" in str(caught.value) and "%azlogin" in str(caught.value)
    assert nbsession.account is None


def test_slow_down_adds_five_seconds_then_succeeds(nbsession, admin):
    admin.settings(slow_down_polls=1)

    def approve_after_first_poll(p):
        def run():
            while not device_polls(admin):
                threading.Event().wait(0.05)
            admin.approve(ALICE, p.user_code)

        threading.Thread(target=run, name="test-approver").start()

    signin = nbsession.login(prompt=approve_after_first_poll)

    assert signin.status == "succeeded"
    polls = device_polls(admin)
    assert [p["status"] for p in polls] == [400, 200]  # slow_down, then the tokens
    # RFC 8628 3.5: after slow_down the interval grows by 5 s; msal keeps it in the flow.
    assert polls[1]["time"] - polls[0]["time"] >= 1 + 5 - 0.05


def test_cancel_stops_the_polling_thread_and_keeps_nobody_signed_in(nbsession, admin):
    before = threading.active_count()
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    [poller] = poller_threads()
    done_in: list[str] = []
    signin.add_done_callback(lambda s: done_in.append(s.status))

    assert signin.cancel() is True

    poller.join(timeout=1.0)
    assert not poller.is_alive()
    assert threading.active_count() == before
    assert signin.status == "cancelled" and done_in == ["cancelled"]
    with pytest.raises(SignInCancelled):
        signin.wait()
    assert signin.cancel() is False  # already finished
    # Approving the abandoned code later changes nothing in this session.
    admin.approve(ALICE, signin.prompt.user_code)
    assert nbsession.account is None


def test_keyboard_interrupt_while_blocking_cancels_and_keeps_the_previous_account(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    before = threading.active_count()
    timers: list[threading.Timer] = []

    def interrupt_soon(p):
        # What the stop button does to a kernel: KeyboardInterrupt in the main thread while
        # login(wait=True) blocks.
        timers.append(threading.Timer(0.3, _thread.interrupt_main))
        timers[0].start()

    with pytest.raises(SignInCancelled) as caught:
        nbsession.login(prompt=interrupt_soon)

    assert ALICE in str(caught.value)  # says who is still signed in
    assert poller_threads() == []
    timers[0].join()
    assert threading.active_count() == before
    assert nbsession.account.username == ALICE
    admin.clear_requests()
    token = nbsession.credential().get_token(STORAGE_SCOPE)
    assert token.token and len(token_requests(admin, "refresh_token")) == 1


def test_login_timeout_cancels_and_raises_sign_in_timeout(nbsession, admin):
    with pytest.raises(SignInTimeout) as caught:
        nbsession.login(prompt=lambda p: None, timeout=0.5)
    assert isinstance(caught.value, TimeoutError)
    assert poller_threads() == []
    assert nbsession.account is None


def test_wait_with_timeout_raises_but_leaves_the_sign_in_running(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    with pytest.raises(SignInTimeout):
        signin.wait(timeout=0.2)
    assert signin.status == "pending"
    admin.approve(ALICE, signin.prompt.user_code)
    assert signin.wait(timeout=30).username == ALICE


def test_done_callback_runs_once_on_the_polling_thread(nbsession, admin):
    calls: list[tuple[str, str]] = []
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    signin.add_done_callback(lambda s: calls.append((s.status, threading.current_thread().name)))
    admin.approve(ALICE, signin.prompt.user_code)
    signin.wait(timeout=30)
    signin.add_done_callback(lambda s: calls.append((s.status, "late")))

    assert calls[0] == ("succeeded", "nbauth-device-code-poller")
    assert calls[1] == ("succeeded", "late")  # added after done: called at once
    assert len(calls) == 2


def test_a_new_login_cancels_the_pending_one(nbsession, admin):
    first = nbsession.login(wait=False, prompt=lambda p: None)
    second = nbsession.login(prompt=approving_prompt(admin, BOB))
    assert first.status == "cancelled"
    assert second.status == "succeeded" and nbsession.account.username == BOB


def test_guest_can_sign_in_to_the_other_tenant(nbsession, admin):
    signin = sign_in(nbsession, admin, ALICE, tenant="fabrikam.example")
    assert signin.account.tenant_id == FABRIKAM
    assert signin.account.home_tenant_id != FABRIKAM
    assert signin.account.authority.endswith("/fabrikam.example")


def test_unknown_client_id_fails_before_any_prompt(nbsession, admin):
    shown = []
    with pytest.raises(EntraError) as caught:
        nbsession.login(client_id="00000000-0000-0000-0000-00000000dead", prompt=shown.append)
    assert caught.value.aadsts == 700016
    assert "client" in caught.value.guidance.lower()
    assert shown == []


def test_unknown_method_and_bad_arguments_say_what_is_accepted(nbsession):
    with pytest.raises(ConfigurationError, match="device_code"):
        nbsession.login("carrier_pigeon")
    with pytest.raises(ConfigurationError, match="tenant"):
        nbsession.login(tenant="not a tenant/")
    with pytest.raises(ConfigurationError, match="https"):
        nbsession.login(authority_host="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="openid"):
        nbsession.login(scopes=["openid"])


def test_unreachable_authority_is_an_authentication_error(nbsession):
    with pytest.raises(AuthenticationError, match="Could not reach"):
        nbsession.login(authority_host="https://127.0.0.1:9", prompt=lambda p: None)


def test_arm_scope_is_the_default_sign_in_scope(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    admin.clear_requests()
    # The sign-in's own token (ARM) is served from msal's cache: no request.
    nbsession.credential().get_token(ARM_SCOPE)
    assert token_requests(admin) == []
