"""Bad answers from the network: token answers with lifetimes that make no sense, a token of
another tenant, and endpoints that do not answer.

Real msal, azure-identity and HTTP to the emulator; its ``patch`` fault rewrites fields of the
real token answer, ``delay_s`` holds an answer back. The session's clock is moved (never slept)
into the refresh window (``3300 s < t < 3600 s`` for the emulator's one-hour tokens) or past
expiry. ``$NBAUTH_HTTP_TIMEOUT`` makes the network bound short enough to test.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time

import pytest
from _audit_fixtures import assert_no_leak, token_calls
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    CONTOSO,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    clock_fixture,
    jwt_claims,
    nbsession_fixture,
    sign_in,
)
from _service_fixtures import (
    service_env_fixture,  # noqa: F401 - fixture
    svc_session_fixture,  # noqa: F401 - fixture
)
from fixtures.fake_tokens import METHODS_CANARY as FAKE_MI_TOKEN

import nbauth
from nbauth._errors import AuthenticationError
from nbauth._ui.badge import BadgeInfo, badge_text
from nbauth._whoami import TokenExpiry, WhoAmI

IN_REFRESH_WINDOW_S = 3400
PAST_EXPIRY_S = 3700
MAX_LIFETIME_S = 28 * 3600
CALLS = 10


@pytest.fixture
def signed_in(nbsession, admin):
    """Alice (Contoso) signed in at 'organizations', an ARM token stored, the log cleared."""
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    first = credential.get_token(ARM_SCOPE)
    admin.clear_requests()
    return nbsession, credential, first


def nbauth_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "nbauth" and r.levelno == logging.WARNING
    ]


# -- lifetimes (item 6) -------------------------------------------------------------------------

UNUSABLE_LIFETIMES = [0, -300, 0.5, "0", "soon", None, True, math.nan]
UNUSABLE_IDS = ["zero", "negative", "half-second", "zero-text", "text", "null", "bool", "nan"]


@pytest.mark.parametrize("expires_in", UNUSABLE_LIFETIMES, ids=UNUSABLE_IDS)
def test_unusable_lifetime_on_early_refresh_keeps_the_valid_token_and_backs_off(
    signed_in, admin, clock, caplog, expires_in
):
    session, credential, first = signed_in
    clock.advance(IN_REFRESH_WINDOW_S)
    admin.fault("token", patch={"expires_in": expires_in}, count=50)

    with caplog.at_level(logging.WARNING, logger="nbauth"):
        tokens = [credential.get_token(ARM_SCOPE) for _ in range(CALLS)]
    # The still-valid token, never the unusable new one; one request, not one per call.
    assert {t.token for t in tokens} == {first.token}
    assert all(t.expires_on > time.time() for t in tokens)
    assert len(token_calls(admin)) == 1
    warnings = nbauth_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "expires_in=" in warnings[0] and "Still using the current one" in warnings[0]
    assert_no_leak(caplog.text, admin, "the warning", kinds_expected=["access_tokens"])


@pytest.mark.parametrize("expires_in", [0, -300, "soon"], ids=["zero", "negative", "text"])
def test_unusable_lifetime_past_expiry_is_a_clear_error_and_not_asked_for_every_call(
    signed_in, admin, clock, expires_in
):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault("token", patch={"expires_in": expires_in}, count=50)

    messages = []
    for _ in range(CALLS):
        with pytest.raises(AuthenticationError) as caught:
            credential.get_token(ARM_SCOPE)
        messages.append(str(caught.value))
    assert f"expires_in={expires_in!r}" in messages[0], messages[0]
    assert all("expires_in=" in m for m in messages)
    assert len(token_calls(admin)) == 1  # the same request is not sent again within 30 s
    assert_no_leak(messages, admin, "the errors", kinds_expected=["access_tokens"])


@pytest.mark.parametrize(
    "refresh_in",
    [-100, 0, 7200, "soon", math.nan],
    ids=["negative", "zero", "after-expiry", "text", "nan"],
)
def test_nonsense_refresh_in_is_ignored_with_a_warning(
    signed_in, admin, clock, caplog, refresh_in
):
    session, credential, first = signed_in
    clock.advance(IN_REFRESH_WINDOW_S)
    admin.fault("token", patch={"refresh_in": refresh_in}, count=50)

    with caplog.at_level(logging.WARNING, logger="nbauth"):
        tokens = [credential.get_token(ARM_SCOPE) for _ in range(CALLS)]
    # The new token is good (one hour): used, and refreshed at the default time, not per call.
    assert tokens[0].token != first.token
    assert {t.token for t in tokens} == {tokens[0].token}
    assert len(token_calls(admin)) == 1
    assert any("refresh_in=" in w for w in nbauth_warnings(caplog)), nbauth_warnings(caplog)
    clock.advance(600)  # an hour-long token is not due for refresh 10 minutes later
    credential.get_token(ARM_SCOPE)
    assert len(token_calls(admin)) == 1


@pytest.mark.parametrize(
    "patch",
    [
        {"expires_in": 1e300},
        {"expires_in": "99999999999999999999"},
        {"ext_expires_in": 1e300},
        {"ext_expires_in": math.nan},
        {"ext_expires_in": "soon"},
    ],
    ids=["expires-1e300", "expires-huge-text", "ext-1e300", "ext-nan", "ext-text"],
)
def test_extreme_lifetimes_are_clamped_and_whoami_and_the_badge_still_show(
    signed_in, admin, clock, caplog, patch
):
    session, credential, first = signed_in
    clock.advance(PAST_EXPIRY_S)
    admin.fault("token", patch=patch, count=5)

    with caplog.at_level(logging.WARNING, logger="nbauth"):
        token = credential.get_token(ARM_SCOPE)
    assert token.token != first.token
    assert token.expires_on <= clock() + MAX_LIFETIME_S + 5
    field = next(iter(patch))
    assert any(f"{field}=" in w for w in nbauth_warnings(caplog)), nbauth_warnings(caplog)
    text = str(nbauth.whoami(session))
    assert "valid until" in text
    badge = badge_text(BadgeInfo(ALICE, CONTOSO, "device_code", token.expires_on))
    assert "token valid until" in badge
    # Served from the store afterwards: no request per call.
    for _ in range(CALLS):
        credential.get_token(ARM_SCOPE)
    assert len(token_calls(admin)) == 1


@pytest.mark.parametrize(
    "expires_on", [1e300, -1e300, math.inf, -math.inf, math.nan], ids=str
)
def test_whoami_and_badge_show_any_time_without_failing(expires_on):
    from nbauth._signin import Account

    account = Account(
        username=ALICE,
        home_account_id=f"oid.{CONTOSO}",
        tenant_id=CONTOSO,
        home_tenant_id=CONTOSO,
        name=None,
        method="device_code",
        authority=f"https://login.example/{CONTOSO}",
        client_id=None,
    )
    who = WhoAmI(account=account, tokens=(TokenExpiry("https://storage.azure.com", None, expires_on),))
    assert "https://storage.azure.com" in str(who)
    assert "storage.azure.com" in who._repr_html_()
    assert "token valid until" in badge_text(BadgeInfo(ALICE, CONTOSO, "device_code", expires_on))


# -- a token of another tenant (item 8) ----------------------------------------------------------


@pytest.fixture
def fabrikam_token(signed_in):
    """A real token of Fabrikam's (Alice is a guest there), to answer Contoso's refresh with."""
    session, credential, first = signed_in
    token = credential.get_token(STORAGE_SCOPE, tenant_id=FABRIKAM).token
    assert jwt_claims(token)["tid"] == FABRIKAM
    return token


@pytest.mark.parametrize("tenant_id", [None, CONTOSO], ids=["organizations", "contoso-by-id"])
def test_a_token_of_another_tenant_is_refused(
    signed_in, fabrikam_token, admin, clock, caplog, tenant_id
):
    session, credential, first = signed_in
    home = credential.get_token(ARM_SCOPE, tenant_id=tenant_id)
    assert jwt_claims(home.token)["tid"] == CONTOSO
    admin.fault("token", patch={"access_token": fabrikam_token}, count=50)
    admin.clear_requests()

    clock.advance(IN_REFRESH_WINDOW_S)
    with caplog.at_level(logging.WARNING, logger="nbauth"):
        kept = credential.get_token(ARM_SCOPE, tenant_id=tenant_id)
    assert kept.token == home.token  # still valid: kept, the foreign one refused
    assert any(FABRIKAM in w and "tenant" in w for w in nbauth_warnings(caplog))

    clock.advance(PAST_EXPIRY_S - IN_REFRESH_WINDOW_S)
    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE, tenant_id=tenant_id)
    message = str(caught.value)
    assert f"token for tenant {FABRIKAM}" in message and CONTOSO in message, message
    assert_no_leak([message, caplog.text], admin, "the refusal", kinds_expected=["access_tokens"])

    # Nothing foreign was kept anywhere (msal's cache included): once the server answers
    # honestly again, the account gets its own tenant's token.
    admin.reset()
    clock.advance(60)
    assert jwt_claims(credential.get_token(ARM_SCOPE, tenant_id=tenant_id).token)["tid"] == CONTOSO


def test_a_guest_token_asked_for_by_tenant_id_is_still_accepted(signed_in, fabrikam_token):
    session, credential, first = signed_in
    assert jwt_claims(credential.get_token(ARM_SCOPE, tenant_id=FABRIKAM).token)["tid"] == FABRIKAM
    assert jwt_claims(credential.get_token(ARM_SCOPE).token)["tid"] == CONTOSO


def test_a_sign_in_answered_with_another_tenants_token_is_refused(nbsession, admin):
    # Fabrikam's token first, from a sign-in of its own (Alice is a guest there).
    other = nbauth.Session(clock=nbsession.tokens.store.clock)
    try:
        sign_in(other, admin, tenant=FABRIKAM)
        fabrikam_token = other.credential().get_token(ARM_SCOPE).token
    finally:
        other.close()
    admin.fault("token", patch={"access_token": fabrikam_token}, count=5)

    with pytest.raises(AuthenticationError) as caught:
        sign_in(nbsession, admin, tenant=CONTOSO)
    assert f"token for tenant {FABRIKAM}" in str(caught.value), str(caught.value)
    assert nbsession.account is None


# -- one bound on every network wait (item 7) ----------------------------------------------------

SHORT_TIMEOUT_S = 1
STALL_S = 3  # longer than the bound: the answer comes too late


@pytest.fixture
def short_timeout(monkeypatch):
    """The documented override of the network bound, short enough to test."""
    monkeypatch.setenv("NBAUTH_HTTP_TIMEOUT", str(SHORT_TIMEOUT_S))
    return SHORT_TIMEOUT_S


def endpoint_calls(admin, endpoint: str) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == endpoint]


def test_a_stalled_discovery_is_asked_once_and_says_it_did_not_answer(
    nbsession, admin, short_timeout
):
    admin.fault("discovery", delay_s=STALL_S, count=5)

    with pytest.raises(AuthenticationError) as caught:
        sign_in(nbsession, admin)
    message = str(caught.value)
    assert f"did not answer within {short_timeout} s" in message, message
    assert "ConnectionError" not in message
    assert len(endpoint_calls(admin, "discovery")) == 1


def test_a_stalled_token_endpoint_is_asked_once_by_an_azure_identity_method(
    emulator, emu_admin, service_env, svc_session, short_timeout
):
    sp = emulator["service_principal"]
    emu_admin.fault("token", delay_s=STALL_S, count=5)

    with pytest.raises(AuthenticationError) as caught:
        svc_session.login(
            "client_secret",
            tenant=sp["tenant_id"],
            client_id=sp["client_id"],
            client_secret=sp["client_secret"],
        )
    message = str(caught.value)
    assert f"did not answer within {short_timeout} s" in message, message
    assert len(endpoint_calls(emu_admin, "token")) == 1
    assert sp["client_secret"] not in message


def test_a_bad_timeout_variable_is_named_and_the_default_used(
    nbsession, admin, monkeypatch, caplog
):
    monkeypatch.setenv("NBAUTH_HTTP_TIMEOUT", "soon")
    with caplog.at_level(logging.WARNING, logger="nbauth"):
        sign_in(nbsession, admin)
    assert nbsession.account is not None
    assert any("NBAUTH_HTTP_TIMEOUT" in w and "'soon'" in w for w in nbauth_warnings(caplog))


class StalledEndpoint:
    """A loopback HTTP endpoint that reads each request and never answers (a hung managed
    identity service); counts the requests it received."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self.requests = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="stalled-endpoint", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._open.append(conn)
            conn.settimeout(5)
            try:
                if conn.recv(65536):
                    self.requests += 1
            except OSError:
                pass

    def close(self) -> None:
        self._server.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def stalled_endpoint():
    endpoint = StalledEndpoint()
    yield endpoint
    endpoint.close()


def test_a_stalled_managed_identity_endpoint_is_asked_once_within_the_bound(
    service_env, svc_session, stalled_endpoint, short_timeout
):
    service_env.set(
        IDENTITY_ENDPOINT=f"{stalled_endpoint.url}/msi/token", IDENTITY_HEADER="test-header"
    )
    with pytest.raises(AuthenticationError) as caught:
        svc_session.login("managed_identity")
    message = str(caught.value)
    assert f"did not answer within {short_timeout} s" in message, message
    assert stalled_endpoint.requests == 1


class FakeManagedIdentity:
    """An App Service style managed identity endpoint on loopback that answers every request
    with `answer` (a JSON text): what a broken one might send. Counts the requests."""

    def __init__(self, answer: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests += 1
                body = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/msi/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def mi_answer(expires_on: object) -> str:
    return json.dumps(
        {
            "access_token": FAKE_MI_TOKEN,
            "expires_on": expires_on,
            "resource": "https://management.azure.com",
            "token_type": "Bearer",
        }
    )


@pytest.mark.parametrize(
    "expires_on",
    ["0", "expired", "soon", math.nan, -1.0],
    ids=["zero", "past", "text", "nan", "negative"],
)
def test_a_managed_identity_answer_with_an_unusable_expires_on_is_refused(
    service_env, svc_session, expires_on
):
    if expires_on == "expired":
        expires_on = str(int(time.time()) - 60)
    endpoint = FakeManagedIdentity(mi_answer(expires_on))
    try:
        service_env.set(IDENTITY_ENDPOINT=endpoint.url, IDENTITY_HEADER="test-header")
        with pytest.raises(AuthenticationError) as caught:
            svc_session.login("managed_identity")
    finally:
        endpoint.close()
    message = str(caught.value)
    assert "expires_on" in message, message
    assert FAKE_MI_TOKEN not in message
    assert svc_session.account is None


def test_a_managed_identity_answer_with_a_huge_expires_on_is_clamped(service_env, svc_session):
    endpoint = FakeManagedIdentity(mi_answer(1e300))
    try:
        service_env.set(IDENTITY_ENDPOINT=endpoint.url, IDENTITY_HEADER="test-header")
        svc_session.login("managed_identity")
        token = svc_session.credential().get_token(ARM_SCOPE)
    finally:
        endpoint.close()
    assert token.expires_on <= time.time() + MAX_LIFETIME_S + 5
    assert "valid until" in str(nbauth.whoami(svc_session))


def sp_login(session, emulator):
    sp = emulator["service_principal"]
    return session.login(
        "client_secret",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
    )


@pytest.mark.parametrize("expires_in", [0, -300, math.nan], ids=["zero", "negative", "nan"])
def test_an_azure_identity_method_refuses_an_unusable_lifetime(
    emulator, emu_admin, service_env, svc_session, expires_in
):
    emu_admin.fault("token", patch={"expires_in": expires_in}, count=5)
    with pytest.raises(AuthenticationError) as caught:
        sp_login(svc_session, emulator)
    message = str(caught.value)
    assert "expires_" in message and "gave no token" not in message, message
    assert svc_session.account is None
    assert_no_leak([message], emu_admin, "the refusal")


def test_an_azure_identity_method_refuses_a_token_of_another_tenant(
    emulator, emu_admin, service_env, svc_session, nbsession
):
    sign_in(nbsession, emu_admin, tenant=FABRIKAM)  # Alice, a guest in Fabrikam
    fabrikam_token = nbsession.credential().get_token(ARM_SCOPE).token
    sp_tenant = emulator["service_principal"]["tenant_id"]
    assert sp_tenant != FABRIKAM
    emu_admin.fault("token", patch={"access_token": fabrikam_token}, count=5)

    with pytest.raises(AuthenticationError) as caught:
        sp_login(svc_session, emulator)
    message = str(caught.value)
    assert f"token for tenant {FABRIKAM}" in message and sp_tenant in message, message
    assert svc_session.account is None

    # Signed in honestly, a later token of another tenant is refused too.
    emu_admin.reset()
    sp_login(svc_session, emulator)
    emu_admin.fault("token", patch={"access_token": fabrikam_token}, count=5)
    with pytest.raises(AuthenticationError, match=f"token for tenant {FABRIKAM}"):
        svc_session.credential().get_token(STORAGE_SCOPE)


def test_an_absurdly_nested_token_answer_is_one_clear_error(nbsession, admin, clock):
    """A hostile or broken server nests its JSON answer deeper than Python's recursion limit:
    the credential says what happened, never a RecursionError traceback."""
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    credential.get_token(ARM_SCOPE)
    nested = "[" * 200_000 + "]" * 200_000
    admin.fault("token", status=200, body=nested, content_type="application/json", count=3)
    clock.advance(3700)
    with pytest.raises(AuthenticationError) as caught:
        credential.get_token(ARM_SCOPE)
    assert "could not use" in str(caught.value) and "\n" not in str(caught.value)
