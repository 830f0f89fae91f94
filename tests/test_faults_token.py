"""Faults on the token endpoint while a signed-in kernel refreshes its token.

Real msal, real HTTP to the emulator; its ``/faults`` make the next token answers fail. The
session's clock is moved (never slept) to put the stored token in its refresh window
(``3300 s < t < 3600 s`` for the emulator's one-hour tokens) or past its expiry.
"""

from __future__ import annotations

import logging
import time
import tracemalloc

import pytest
from _audit_fixtures import assert_no_leak, debug_log_fixture, token_calls  # noqa: F401
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ARM_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    sign_in,
)
from azure.core.exceptions import ClientAuthenticationError
from fixtures.fake_tokens import TOKEN_FAULTS_CANARY

from nbauth._errors import AuthenticationError

IN_REFRESH_WINDOW_S = 3400
PAST_EXPIRY_S = 3700
# A token-shaped canary inside malformed answers: it must not come back in any message or log.
FAKE_JWT = TOKEN_FAULTS_CANARY


@pytest.fixture
def signed_in(nbsession, admin):
    """A session with Alice signed in and an ARM token stored; the request log cleared."""
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    first = credential.get_token(ARM_SCOPE)
    admin.clear_requests()
    return nbsession, credential, first


def test_500_then_200_with_retry_after_is_honoured_without_hammering(signed_in, admin, clock):
    session, credential, _ = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault(
        "token",
        status=500,
        body={"error": "temporarily_unavailable", "error_description": "busy"},
        headers={"Retry-After": "1"},
    )

    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    assert isinstance(caught.value, ClientAuthenticationError)  # what SDK code catches
    message = str(caught.value)
    assert "server error" in message and "try again" in message, message
    assert [r["status"] for r in token_calls(admin)] == [500]

    # Within Retry-After nothing is sent: msal answers from its throttle cache.
    with pytest.raises(AuthenticationError):
        credential.get_token(ARM_SCOPE)
    assert len(token_calls(admin)) == 1

    time.sleep(1.2)  # let the server's Retry-After pass (the only wait in this suite)
    token = credential.get_token(ARM_SCOPE)
    assert token.token and token.expires_on > time.time()
    assert [r["status"] for r in token_calls(admin)] == [500, 200]


# "Retry-After: 0": msal otherwise answers the same request from its cache for 5 s of real time
# after a 5xx (tested above), which would hide the store's own retry timing on the moved clock.
NO_THROTTLE = {"Retry-After": "0"}


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "body": {"error": "temporarily_unavailable"}, "headers": NO_THROTTLE},
        {"drop": True},
    ],
    ids=["503", "connection-dropped"],
)
def test_refresh_while_down_keeps_the_valid_token_and_warns_without_it(
    signed_in, admin, clock, caplog, fault
):
    session, credential, first = signed_in
    clock.advance(IN_REFRESH_WINDOW_S)
    admin.fault("token", count=10, **fault)

    with caplog.at_level(logging.WARNING, logger="nbauth"):
        kept = credential.get_token(ARM_SCOPE)
    assert kept.token == first.token  # still valid: returned, not an error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "nbauth"]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    text = warnings[0].getMessage()
    assert "Still using the current one" in text and first.token not in text
    assert_no_leak(caplog.text, admin, "the refresh warning", kinds_expected=["access_tokens"])
    assert len(token_calls(admin)) == 1

    # The next attempt waits 30 s: a flaky network must not turn every call into a request.
    for _ in range(5):
        assert credential.get_token(ARM_SCOPE).token == first.token
    assert len(token_calls(admin)) == 1
    clock.advance(31)
    assert credential.get_token(ARM_SCOPE).token == first.token
    assert len(token_calls(admin)) == 2


@pytest.mark.parametrize(
    "fault, says",
    [
        (
            {"status": 503, "body": {"error": "temporarily_unavailable"}, "headers": NO_THROTTLE},
            "server error",
        ),
        (
            {"status": 502, "body": "<html>Bad gateway</html>", "headers": NO_THROTTLE},
            "server error",
        ),
        ({"drop": True}, "Could not reach"),
    ],
    ids=["503", "502-html", "connection-dropped"],
)
def test_refresh_while_down_with_an_expired_token_is_a_clear_error(
    signed_in, admin, clock, fault, says
):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault("token", count=3, **fault)

    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    error = caught.value
    assert says in str(error) and "try again" in str(error).lower(), str(error)
    assert error.__suppress_context__  # msal's frames (which hold the refresh token) hidden
    assert first.token not in str(error) and first.token not in repr(error)
    # Nothing went stale into the store: once the endpoint is back, a fresh token comes.
    admin.reset()
    assert credential.get_token(ARM_SCOPE).token != first.token


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("<html><body>Sign-in is down</body></html>", None),
        (f'{{"access_token": "{FAKE_JWT}", "expires_in": ', "application/json"),
        (f"access_token={FAKE_JWT}&expires_in=3600", "application/x-www-form-urlencoded"),
    ],
    ids=["html", "truncated-json", "form-encoded"],
)
def test_unreadable_token_answers_are_clear_errors_that_echo_nothing(
    signed_in, admin, clock, debug_log, body, content_type
):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault("token", status=200, body=body, content_type=content_type)

    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    message = str(caught.value)
    assert "could not read" in message and "Try again" in message, message
    assert FAKE_JWT not in message and "Sign-in is down" not in message
    # msal logs the whole unreadable body at ERROR; the session's log redaction removes the
    # token-shaped part of it.
    assert FAKE_JWT not in debug_log.text
    assert_no_leak([message, debug_log.text], admin, "errors and DEBUG logs")


@pytest.mark.parametrize(
    "patch",
    [
        {"access_token": 123},
        {"access_token": ""},
        {"expires_in": None},
        {"expires_in": "soon"},
        {"id_token": "not-a-jwt"},
        {"scope": 123},
    ],
    ids=[
        "token-not-a-string",
        "token-empty",
        "expires-null",
        "expires-text",
        "bad-id-token",
        "scope-int",
    ],
)
def test_malformed_token_fields_are_clear_errors(signed_in, admin, clock, patch):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault("token", patch=patch)  # the real answer, with one field broken

    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    message = str(caught.value)
    assert "could not" in message and "authority_host" in message, message
    # No msal frame (they hold the refresh token) can be shown with it.
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    assert_no_leak([message, repr(caught.value)], admin, "the error")


def test_huge_token_answer_fails_fast_without_a_memory_blow_up(signed_in, admin, clock, debug_log):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    size = 20_000_000
    admin.fault("token", status=200, body="A", body_bytes=size, content_type="application/json")

    tracemalloc.start()
    try:
        with pytest.raises(AuthenticationError) as caught:
            credential.get_token(ARM_SCOPE)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "larger than 1024 KiB" in str(caught.value), str(caught.value)
    assert peak < size / 4, f"reading the answer peaked at {peak / 1e6:.1f} MB"
    assert max((len(line) for line in debug_log.lines), default=0) < 20_000


def test_huge_error_answer_is_refused_too(signed_in, admin, clock):
    """The same cap for an error answer (HTTP 400 'JSON' of 5 MB)."""
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault(
        "token",
        status=400,
        body='{"error": "invalid_grant", "error_description": "',
        body_bytes=5_000_000,
        content_type="application/json",
    )
    with pytest.raises(AuthenticationError, match="larger than 1024 KiB"):
        credential.get_token(ARM_SCOPE)


def test_async_credential_behaves_the_same_when_the_endpoint_is_down(signed_in, admin, clock):
    """The `.aio` credential shares the session's store: the same kept token and clear error."""
    import asyncio

    session, credential, first = signed_in
    acredential = session.async_credential()
    clock.advance(IN_REFRESH_WINDOW_S)
    admin.fault("token", drop=True, count=10)
    assert asyncio.run(acredential.get_token(ARM_SCOPE)).token == first.token
    clock.advance(PAST_EXPIRY_S)
    with pytest.raises(AuthenticationError, match="Could not reach"):
        asyncio.run(acredential.get_token(ARM_SCOPE))
