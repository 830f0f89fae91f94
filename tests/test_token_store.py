"""TokenStore: proactive, single-flight refresh.

The clock moves (no sleeping); the acquisitions are real msal refresh-token grants against the
emulator, counted in its request log. A few store-only cases drive the store through its own
seam (the ``acquire`` callable) where the emulator cannot produce the situation.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    STORAGE_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    sign_in,
    token_requests,
    wait_until_faults_logged,
)

from nbauth._errors import AuthenticationError
from nbauth._token_store import FreshToken, TokenStore

THREADS = 32
LIFETIME = 3600  # the emulator's default access_token_lifetime_s


def refreshes(admin) -> list[dict]:
    return token_requests(admin, "refresh_token")


@pytest.fixture
def warm(nbsession, admin, clock):
    """Alice signed in, one storage token stored; the request log cleared."""
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    token = cred.get_token(STORAGE_SCOPE)
    admin.clear_requests()
    return cred, token


def call_concurrently(fn, n=THREADS):
    barrier = threading.Barrier(n)

    def run(_):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_fresh_token_costs_no_request(warm, admin, clock):
    cred, token = warm
    clock.advance(LIFETIME - 301)  # just before the refresh window
    assert cred.get_token(STORAGE_SCOPE).token == token.token
    assert refreshes(admin) == []


def test_refresh_window_one_refresh_for_32_threads_others_get_the_old_token(warm, admin, clock):
    cred, old = warm
    clock.advance(LIFETIME - 200)  # inside the 5-minute refresh window, still valid

    tokens = call_concurrently(lambda: cred.get_token(STORAGE_SCOPE).token)

    assert len(refreshes(admin)) == 1
    new = cred.get_token(STORAGE_SCOPE).token
    assert new != old.token
    assert set(tokens) <= {old.token, new} and new in tokens
    assert len(refreshes(admin)) == 1  # the new token is fresh: no more requests


def test_expired_token_one_request_for_32_threads_all_get_the_new_token(warm, admin, clock):
    cred, old = warm
    clock.advance(LIFETIME + 60)

    tokens = call_concurrently(lambda: cred.get_token(STORAGE_SCOPE).token)

    assert len(refreshes(admin)) == 1
    assert len(set(tokens)) == 1 and tokens[0] != old.token


def test_expired_token_failure_reaches_every_waiter_with_one_request(warm, admin, clock):
    cred, _ = warm
    clock.advance(LIFETIME + 60)
    # The delay lets all 32 callers join the one acquisition before it fails.
    admin.fault("token", drop=True, delay_s=1.0, count=1)

    def call():
        try:
            cred.get_token(STORAGE_SCOPE)
        except AuthenticationError as exc:
            return exc
        return None

    outcomes = call_concurrently(call)
    wait_until_faults_logged(admin)

    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert "Could not reach" in str(outcomes[0])
    assert len(refreshes(admin)) == 1
    # The next call tries again (there is no still-valid token to fall back on).
    assert cred.get_token(STORAGE_SCOPE).token
    assert len(refreshes(admin)) == 2


def test_failed_early_refresh_keeps_the_token_and_backs_off_30_s(warm, admin, clock, caplog):
    cred, old = warm
    clock.advance(LIFETIME - 200)
    admin.fault("token", drop=True, count=1)

    with caplog.at_level(logging.WARNING, logger="nbauth"):
        assert cred.get_token(STORAGE_SCOPE).token == old.token
    wait_until_faults_logged(admin)
    assert len(refreshes(admin)) == 1
    assert "Could not refresh an access token early" in caplog.text

    clock.advance(20)  # within the back-off: no new attempt
    for _ in range(5):
        assert cred.get_token(STORAGE_SCOPE).token == old.token
    assert len(refreshes(admin)) == 1

    clock.advance(11)  # 31 s after the failure: one new attempt, which succeeds
    fresh = cred.get_token(STORAGE_SCOPE).token
    assert fresh != old.token
    assert len(refreshes(admin)) == 2


def test_failed_early_refresh_with_an_entra_error_also_keeps_the_token(warm, admin, clock):
    cred, old = warm
    clock.advance(LIFETIME - 200)
    admin.fault(
        "token",
        status=401,
        body={
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215],
        },
    )
    assert cred.get_token(STORAGE_SCOPE).token == old.token
    assert len(refreshes(admin)) == 1


def test_logout_and_account_switch_clear_the_store(warm, nbsession, admin):
    cred, _ = warm
    assert len(nbsession.tokens.store) == 1
    sign_in(nbsession, admin, "bob@contoso.example")
    assert len(nbsession.tokens.store) == 0
    cred.get_token(STORAGE_SCOPE)
    nbsession.logout()
    assert len(nbsession.tokens.store) == 0


# -- store-only cases, through the store's `acquire` seam -------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_refresh_on_from_the_server_wins_over_the_margin():
    clock = Clock()
    store = TokenStore(clock=clock)
    entry = store.get("k", lambda force: FreshToken("t", expires_in=3600, refresh_in=1000))
    assert entry.refresh_on == clock.now + 1000 and entry.expires_on == clock.now + 3600


def test_a_lifetime_counts_from_when_the_token_was_asked_for():
    """The service starts a token's clock when the request arrives; reading the answer can take
    seconds on a loaded machine. Counted from then, the token would be held past its end."""
    clock = Clock()
    store = TokenStore(clock=clock)
    asked_at = clock.now

    def slow_answer(force: bool) -> FreshToken:
        clock.now += 20  # the answer is read 20 s after the request left
        return FreshToken("t", expires_in=3600, refresh_in=1000)

    entry = store.get("k", slow_answer)
    assert entry.expires_on == asked_at + 3600 and entry.refresh_on == asked_at + 1000


def test_short_lived_tokens_refresh_at_half_life():
    clock = Clock()
    store = TokenStore(clock=clock)
    entry = store.get("k", lambda force: FreshToken("t", expires_in=200))
    assert entry.refresh_on == clock.now + 100


def test_acquire_is_told_to_force_a_refresh_only_when_a_token_is_held():
    clock = Clock()
    store = TokenStore(clock=clock)
    forced: list[bool] = []

    def acquire(force: bool) -> FreshToken:
        forced.append(force)
        return FreshToken(f"t{len(forced)}", expires_in=3600)

    store.get("k", acquire)
    clock.now += 3500
    store.get("k", acquire)
    assert forced == [False, True]


def test_a_clear_during_an_acquisition_wins():
    store = TokenStore(clock=Clock())
    started, release = threading.Event(), threading.Event()

    def slow_acquire(force: bool) -> FreshToken:
        started.set()
        release.wait(5)
        return FreshToken("t", expires_in=3600)

    worker = threading.Thread(target=store.get, args=("k", slow_acquire))
    worker.start()
    started.wait(5)
    store.clear()  # e.g. logout while a refresh is in flight
    release.set()
    worker.join(5)
    assert len(store) == 0


def test_an_interrupted_wait_leaves_the_acquisition_to_finish_for_everyone():
    """The stop button interrupts the caller's wait, never the acquisition (which runs in its
    own thread, holding the refresh token): a waiter gets its token, and so does the next call,
    without a second request."""
    import signal

    store = TokenStore(clock=Clock())
    started, release = threading.Event(), threading.Event()
    calls: list[bool] = []

    def slow(force: bool) -> FreshToken:
        calls.append(force)
        started.set()
        release.wait(5)
        return FreshToken("ok", 3600)

    results: list[str] = []
    waiter = threading.Thread(
        target=lambda: (started.wait(5), results.append(store.get("k", slow).token))
    )
    main = threading.main_thread().ident
    threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT)).start()
    waiter.start()
    with pytest.raises(KeyboardInterrupt):
        store.get("k", slow)  # the leader, on the main thread, as a cell would be
    release.set()
    waiter.join(5)
    assert results == ["ok"]
    assert store.get("k", slow).token == "ok"
    assert len(calls) == 1
