"""Faults during a device-code sign-in: declined, expired, repeated slow_down, a dropped
connection or a 5xx while polling, unreadable or huge device-code answers, and a kernel interrupt
while a poll is in flight. Each asserts the safe outcome: a clear error (or a sign-in that goes
on), no polling thread left behind, nobody signed in by accident, no secret in what is shown.
"""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from _audit_fixtures import assert_no_leak, device_code_polls
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    poller_threads,
)

from nbauth._errors import (
    AuthenticationError,
    SignInCancelled,
    SignInDeclined,
    SignInExpired,
)
from nbauth._scopes import DEFAULT_CLIENT_ID


def wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def join_pollers(timeout: float = 10.0) -> None:
    for thread in poller_threads():
        thread.join(timeout)
    assert poller_threads() == []


def shown_text(signin, error: BaseException | None = None) -> list[str]:
    texts = [repr(signin), str(signin.prompt), repr(signin.prompt)]
    if error is not None:
        texts += [str(error), repr(error), str(error.__cause__ or "")]
    return texts


def test_declined_on_the_sign_in_page(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda p: None)
    admin.decline(signin.prompt.user_code)
    with pytest.raises(SignInDeclined) as caught:
        signin.wait()
    assert signin.status == "declined" and nbsession.account is None
    assert "declined" in str(caught.value) and "%azlogin" in str(caught.value)
    join_pollers()
    assert_no_leak(
        shown_text(signin, caught.value),
        admin,
        "the declined sign-in",
        kinds_expected=["device_codes"],
    )


def test_expired_token_answer_while_polling(nbsession, admin):
    """Entra's `expired_token` (the code timed out on its side) ends the sign-in clearly."""
    admin.fault(
        "token",
        status=400,
        body={
            "error": "expired_token",
            "error_description": "AADSTS70020: The provided value for the input parameter "
            "'device_code' is not valid. This device code has expired.",
            "error_codes": [70020],
        },
    )
    with pytest.raises(SignInExpired) as caught:
        nbsession.login(prompt=lambda p: None)
    assert "expired" in str(caught.value) and "%azlogin" in str(caught.value)
    assert nbsession.account is None
    join_pollers()
    assert [p["status"] for p in device_code_polls(admin)] == [400]
    assert_no_leak([str(caught.value), repr(caught.value)], admin, "the error")


def test_repeated_slow_down_backs_off_and_keeps_the_sign_in_pending(nbsession, admin):
    admin.settings(slow_down_polls=2)
    signin = nbsession.login(wait=False, prompt=lambda p: None)

    polls = wait_for(lambda: (p := device_code_polls(admin)) and len(p) >= 2 and p, "two polls")
    assert [p["status"] for p in polls] == [400, 400]  # slow_down, slow_down
    # RFC 8628 3.5: each slow_down adds 5 s to the 1 s interval (never faster).
    assert polls[1]["time"] - polls[0]["time"] >= 1 + 5 - 0.05
    # Two slow_downs are no failure: still pending, now waiting 11 s before the next poll.
    assert signin.status == "pending" and not signin.done()
    assert signin.cancel() is True
    join_pollers()
    assert len(device_code_polls(admin)) == 2  # the cancel ended the wait at once


def test_connection_dropped_mid_poll_is_retried(nbsession, admin):
    def drop_then_approve(p):
        admin.fault("token", drop=True)

        def approve_after_the_drop():
            wait_for(lambda: device_code_polls(admin), "the dropped poll")
            admin.approve(ALICE, p.user_code)

        threading.Thread(target=approve_after_the_drop, name="test-approver").start()

    signin = nbsession.login(prompt=drop_then_approve)
    assert signin.status == "succeeded" and nbsession.account.username == ALICE
    statuses = [p["status"] for p in device_code_polls(admin)]
    assert statuses[0] is None and statuses[-1] == 200, statuses  # dropped, then the tokens
    join_pollers()


def test_connection_lost_for_good_fails_after_three_polls(nbsession, admin):
    admin.fault("token", drop=True, count=10)
    with pytest.raises(AuthenticationError) as caught:
        nbsession.login(prompt=lambda p: None)
    message = str(caught.value)
    assert "Lost contact" in message and "%azlogin" in message, message
    assert len(device_code_polls(admin)) == 3
    assert nbsession.account is None
    join_pollers()
    assert_no_leak([message, repr(caught.value)], admin, "the error")


def test_a_server_error_mid_poll_is_retried_after_the_throttle(nbsession, admin):
    """One HTTP 500 while polling: msal throttles that request for Retry-After; the poller waits
    it out and the sign-in completes (it used to end 'unexpectedly: MsalServiceError')."""

    def fail_once_then_approve(p):
        admin.fault(
            "token", status=500, body={"error": "server_error"}, headers={"Retry-After": "1"}
        )

        def approve_after_the_500():
            wait_for(lambda: device_code_polls(admin), "the failed poll")
            admin.approve(ALICE, p.user_code)

        threading.Thread(target=approve_after_the_500, name="test-approver").start()

    signin = nbsession.login(prompt=fail_once_then_approve)
    assert signin.status == "succeeded"
    assert [p["status"] for p in device_code_polls(admin)] == [500, 200]
    join_pollers()


@pytest.mark.parametrize(
    "fault, says",
    [
        ({"status": 200, "body": "<html>maintenance</html>"}, "could not read"),
        (
            {"status": 200, "body": '{"user_code": "ABC', "content_type": "application/json"},
            "could not read",
        ),
        ({"status": 503, "body": {"error": "temporarily_unavailable"}}, "temporarily unavailable"),
        ({"status": 502, "body": "<html>bad gateway</html>"}, "could not read"),
        ({"status": 200, "body": "x", "body_bytes": 20_000_000}, "larger than 1024 KiB"),
        ({"patch": {"interval": "soon"}}, "could not read"),
        ({"patch": {"user_code": None, "message": None}}, "malformed"),
        ({"patch": {"verification_uri": ""}}, "malformed"),
        ({"drop": True}, "Could not reach"),
    ],
    ids=[
        "html",
        "truncated-json",
        "503",
        "502-html",
        "huge",
        "bad-interval",
        "no-user-code",
        "no-verification-uri",
        "dropped",
    ],
)
def test_unusable_device_code_answers_fail_before_any_prompt(nbsession, admin, fault, says):
    prompts = []
    admin.fault("devicecode", **fault)
    with pytest.raises(AuthenticationError) as caught:
        nbsession.login(prompt=prompts.append)
    assert says in str(caught.value), str(caught.value)
    assert prompts == [] and nbsession.pending is None and poller_threads() == []
    assert "maintenance" not in str(caught.value)
    assert_no_leak([str(caught.value), repr(caught.value)], admin, "the error")


def test_interrupt_while_a_poll_is_in_flight_discards_its_late_success(nbsession, admin):
    """The stop button while a poll request is on the wire, and the person approves meanwhile:
    the sign-in is cancelled, and the token that arrives afterwards is thrown away."""
    timers: list[threading.Timer] = []

    def slow_poll_then_interrupt(p):
        admin.fault("token", delay_s=1.5)  # the next poll stays in flight for 1.5 s

        def approve_then_interrupt():
            wait_for(lambda: device_code_polls(admin), "the poll in flight")
            admin.approve(ALICE, p.user_code)  # the delayed poll will come back with tokens
            _thread.interrupt_main()

        timers.append(threading.Thread(target=approve_then_interrupt, name="test-interrupter"))
        timers[0].start()

    with pytest.raises(SignInCancelled) as caught:
        nbsession.login(prompt=slow_poll_then_interrupt)
    timers[0].join(10)
    assert "cancelled" in str(caught.value)
    join_pollers()  # ends once the delayed answer arrived
    assert [p["status"] for p in device_code_polls(admin)] == [200]  # tokens were issued...
    assert nbsession.account is None  # ...and not kept
    app = nbsession.public_client(f"{nbsession.authority_host}/organizations", DEFAULT_CLIENT_ID)
    assert app.get_accounts() == []
    with pytest.raises(AuthenticationError):
        nbsession.credential().get_token(ARM_SCOPE)
