"""The kernel's clock jumps (a laptop wakes up, NTP corrects, a VM is restored): the session's
token store runs on an injected clock (``Session(clock=...)``), moved here forward and back.

Safe behaviour: after a jump forward past expiry exactly one refresh, and a token that Entra
(emulated) issued anew even though msal's own cache, on real time, still holds the old one;
after a jump back no request storm, no error, the same token; refresh resumes when the clock
reaches the refresh window again.
"""

from __future__ import annotations

import logging

import pytest
from _audit_fixtures import token_calls
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ARM_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    sign_in,
)

HOUR = 3600.0


@pytest.fixture
def signed_in(nbsession, admin):
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    first = credential.get_token(ARM_SCOPE)
    admin.clear_requests()
    return credential, first


def refreshes(admin) -> int:
    return len(token_calls(admin, "refresh_token"))


def test_jump_forward_past_expiry_refreshes_exactly_once(signed_in, admin, clock):
    credential, first = signed_in
    clock.advance(2 * HOUR)

    tokens = {credential.get_token(ARM_SCOPE).token for _ in range(5)}

    assert len(tokens) == 1 and first.token not in tokens  # msal's cache was not trusted
    assert refreshes(admin) == 1


def test_jump_back_keeps_the_token_without_requests_or_errors(signed_in, admin, clock, caplog):
    credential, first = signed_in
    with caplog.at_level(logging.WARNING):
        clock.advance(-3 * HOUR)
        for _ in range(5):
            assert credential.get_token(ARM_SCOPE).token == first.token
        info = credential.get_token_info(ARM_SCOPE)
    assert info.token == first.token and info.refresh_on <= info.expires_on
    assert refreshes(admin) == 0
    assert [r for r in caplog.records if r.name.startswith("nbauth")] == []

    # Back to where it was, then into the refresh window: one refresh, as without the jump.
    clock.advance(3 * HOUR + 3400)
    assert credential.get_token(ARM_SCOPE).token != first.token
    assert refreshes(admin) == 1


def test_back_and_forth_around_a_refresh(signed_in, admin, clock):
    credential, first = signed_in
    clock.advance(2 * HOUR)
    second = credential.get_token(ARM_SCOPE)
    clock.advance(-2 * HOUR)  # back before the first token's expiry: the newer token stays
    assert credential.get_token(ARM_SCOPE).token == second.token
    clock.advance(-10 * 24 * HOUR)  # far back
    assert credential.get_token(ARM_SCOPE).token == second.token
    assert refreshes(admin) == 1
    clock.advance(10 * 24 * HOUR + 2 * HOUR + 3400)  # the second token's refresh window
    third = credential.get_token(ARM_SCOPE)
    assert third.token not in (first.token, second.token)
    assert refreshes(admin) == 2


def test_a_failed_early_refresh_then_a_jump_back_retries_in_the_window_again(
    signed_in, admin, clock
):
    credential, first = signed_in
    clock.advance(3400)  # refresh window
    admin.fault("token", drop=True)
    assert credential.get_token(ARM_SCOPE).token == first.token  # kept after the failure
    assert len(token_calls(admin)) == 1
    clock.advance(-HOUR)  # before the window: nothing to do
    assert credential.get_token(ARM_SCOPE).token == first.token
    assert len(token_calls(admin)) == 1
    clock.advance(HOUR + 60)  # in the window and past the 30 s retry delay: one attempt
    assert credential.get_token(ARM_SCOPE).token != first.token
    assert len(token_calls(admin)) == 2
