"""NotebookCredential against the real emulator: msal underneath, azure-core on top."""

from __future__ import annotations

import logging
import pickle
import time

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    CONTOSO,
    FABRIKAM,
    GRAPH_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    jwt_claims,
    nbsession_fixture,
    sign_in,
    token_requests,
)
from _service_fixtures import PRODUCTION_SUBSCRIPTION, arm_subscriptions
from azure.core.credentials import AccessToken, AccessTokenInfo, SupportsTokenInfo, TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from nbauth._credential import NotebookCredential
from nbauth._errors import (
    AuthenticationRequired,
    ConfigurationError,
    EntraError,
    InteractionRequired,
)


def test_implements_both_azure_core_protocols(nbsession):
    cred = nbsession.credential()
    assert isinstance(cred, TokenCredential) and isinstance(cred, SupportsTokenInfo)
    assert nbsession.credential() is cred  # one per session
    with cred as entered:
        assert entered is cred


def test_without_sign_in_raises_authentication_required_naming_azlogin(nbsession):
    with pytest.raises(AuthenticationRequired) as caught:
        nbsession.credential().get_token(ARM_SCOPE)
    assert "%azlogin" in str(caught.value) and "nbauth.login()" in str(caught.value)
    # SDK code that catches azure-core's error catches ours.
    assert isinstance(caught.value, ClientAuthenticationError)


def test_new_scope_costs_one_refresh_and_then_nothing(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = NotebookCredential(session=nbsession)
    admin.clear_requests()

    first = cred.get_token(STORAGE_SCOPE)
    assert [r["grant_type"] for r in token_requests(admin)] == ["refresh_token"]
    second = cred.get_token(STORAGE_SCOPE)
    info = cred.get_token_info(STORAGE_SCOPE)

    assert len(token_requests(admin)) == 1  # cache hits: no request
    assert first.token == second.token == info.token
    claims = jwt_claims(first.token)
    assert claims["aud"] == "https://storage.azure.com" and claims["upn"] == ALICE
    assert isinstance(first, AccessToken) and first.expires_on == int(claims["exp"])


def test_get_token_info_has_bearer_type_and_refresh_time(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    info = nbsession.credential().get_token_info(STORAGE_SCOPE)
    assert isinstance(info, AccessTokenInfo)
    assert info.token_type == "Bearer"
    assert info.refresh_on is not None and info.refresh_on < info.expires_on
    # A repr (say, in a traceback or a notebook output) does not show the token.
    assert info.token not in repr(info)
    assert info.token not in repr(nbsession.credential().get_token(STORAGE_SCOPE))


def test_tenant_id_of_a_guest_tenant_gets_a_token_from_that_tenant(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    home = jwt_claims(cred.get_token(ARM_SCOPE).token)
    guest = jwt_claims(cred.get_token(ARM_SCOPE, tenant_id=FABRIKAM).token)
    assert home["tid"] == CONTOSO
    assert guest["tid"] == FABRIKAM
    assert guest["oid"] != home["oid"]  # a guest has its own object in the other tenant


def test_tenant_id_of_a_foreign_tenant_raises_50020_with_guidance(nbsession, admin):
    sign_in(nbsession, admin, BOB)
    with pytest.raises(EntraError) as caught:
        nbsession.credential().get_token(ARM_SCOPE, tenant_id=FABRIKAM)
    exc = caught.value
    assert exc.aadsts == 50020
    assert "not a member or guest" in str(exc).splitlines()[0]
    assert exc.correlation_id and exc.trace_id and exc.timestamp


def test_revoked_refresh_token_says_sign_in_again(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    admin.revoke(ALICE)
    with pytest.raises(InteractionRequired) as caught:
        nbsession.credential().get_token(GRAPH_SCOPE)
    exc = caught.value
    assert isinstance(exc, AuthenticationRequired) and isinstance(exc, EntraError)
    assert exc.aadsts == 50173
    assert "sign in again" in exc.guidance and "%azlogin" in exc.guidance
    # Signing in again fixes it.
    sign_in(nbsession, admin, ALICE)
    assert nbsession.credential().get_token(GRAPH_SCOPE).token


def test_claims_challenge_goes_to_the_network(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    cred.get_token(STORAGE_SCOPE)
    admin.clear_requests()
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    assert cred.get_token(STORAGE_SCOPE, claims=claims).token
    assert len(token_requests(admin, "refresh_token")) == 1


def test_cae_tokens_are_kept_apart_from_others(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    plain = cred.get_token(STORAGE_SCOPE)
    admin.clear_requests()
    cae = cred.get_token(STORAGE_SCOPE, enable_cae=True)
    again = cred.get_token_info(STORAGE_SCOPE, options={"enable_cae": True})
    assert len(token_requests(admin, "refresh_token")) == 1
    assert cae.token == again.token
    assert cred.get_token(STORAGE_SCOPE).token == plain.token


def test_logout_forgets_the_account_and_its_tokens(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    cred.get_token(STORAGE_SCOPE)
    assert len(nbsession.tokens.store) >= 1

    nbsession.logout()

    assert nbsession.account is None and len(nbsession.tokens.store) == 0
    with pytest.raises(AuthenticationRequired):
        cred.get_token(STORAGE_SCOPE)
    # Signing in again needs a new device code: the refresh token went with the account.
    admin.clear_requests()
    sign_in(nbsession, admin, ALICE)
    assert [r["endpoint"] for r in admin.requests() if r["endpoint"] == "devicecode"]


def test_logout_all_forgets_every_account(nbsession, admin, emulator):
    from nbauth._scopes import DEFAULT_CLIENT_ID

    sign_in(nbsession, admin, ALICE)
    sign_in(nbsession, admin, BOB)
    assert nbsession.account.username == BOB
    app = nbsession.public_client(emulator["authority_host"] + "/organizations", DEFAULT_CLIENT_ID)
    assert len(app.get_accounts()) == 2

    nbsession.logout(all=True)

    assert nbsession.account is None
    assert app.get_accounts() == []


def test_switching_account_switches_tokens(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    alice = jwt_claims(cred.get_token(STORAGE_SCOPE).token)
    sign_in(nbsession, admin, BOB)
    bob = jwt_claims(cred.get_token(STORAGE_SCOPE).token)
    assert (alice["upn"], bob["upn"]) == (ALICE, BOB)


def test_get_token_needs_a_scope(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    with pytest.raises(ConfigurationError, match="scope"):
        nbsession.credential().get_token()
    with pytest.raises(ConfigurationError, match="tenant"):
        nbsession.credential().get_token(ARM_SCOPE, tenant_id="../evil")


def test_get_token_waits_for_a_pending_sign_in(nbsession, admin):
    import threading

    signin = nbsession.login(wait=False, prompt=lambda p: None)
    threading.Timer(0.3, admin.approve, args=(ALICE, signin.prompt.user_code)).start()

    token = nbsession.credential().get_token(STORAGE_SCOPE)

    assert signin.status == "succeeded"
    assert jwt_claims(token.token)["upn"] == ALICE


def test_credential_cannot_be_pickled(nbsession):
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(nbsession.credential())
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(nbsession)


def test_azure_core_pipeline_calls_arm_with_the_credential(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    assert PRODUCTION_SUBSCRIPTION in arm_subscriptions(nbsession.credential(), ARM_SCOPE)


def test_errors_output_and_logs_hold_no_issued_secret(nbsession, admin, clock, caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="nbauth")
    texts: list[str] = []
    sign_in(nbsession, admin, ALICE)
    cred = nbsession.credential()
    texts += [repr(cred), repr(nbsession), repr(nbsession.account), repr(nbsession.tokens.store)]
    token = cred.get_token(STORAGE_SCOPE)
    texts += [repr(token), str(token.expires_on)]
    for call in (
        lambda: cred.get_token(ARM_SCOPE, tenant_id="unknown-tenant.example"),
        lambda: nbsession.login(client_id="00000000-0000-0000-0000-00000000dead"),
    ):
        with pytest.raises(Exception) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), str(caught.value.__cause__)]
    # A failed early refresh logs a warning.
    admin.fault("token", drop=True)
    clock.advance(3500)
    assert cred.get_token(STORAGE_SCOPE).token == token.token
    admin.revoke(ALICE)
    with pytest.raises(InteractionRequired) as caught:
        cred.get_token(GRAPH_SCOPE)
    texts += [str(caught.value), repr(caught.value)]
    texts.append(pickle.dumps(caught.value).decode("latin-1"))

    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    assert "Could not refresh an access token early" in caplog.text
    assert_no_secret_in(texts, issued_secrets(admin))


# -- several accounts in one session ------------------------------------------------------------


def test_accounts_use_account_and_sign_out(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    sign_in(nbsession, admin, BOB)
    signed_out: list[object] = []
    nbsession.add_logout_listener(signed_out.append)
    assert [a.username for a in nbsession.accounts()] == [ALICE, BOB]
    assert nbsession.account.client_id == "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

    admin.clear_requests()
    alice = nbsession.use_account(ALICE)
    assert admin.requests() == []  # switching back costs no request
    assert nbsession.account == alice
    assert jwt_claims(nbsession.credential().get_token(STORAGE_SCOPE).token)["upn"] == ALICE

    bob = nbsession.logout_account(BOB)  # not the current one
    assert [a.username for a in nbsession.accounts()] == [ALICE] and nbsession.account == alice
    assert signed_out == [bob]
    with pytest.raises(ConfigurationError, match=ALICE):
        nbsession.use_account(BOB)

    nbsession.logout()
    assert nbsession.accounts() == [] and signed_out == [bob, alice]
    nbsession.logout(all=True)
    assert signed_out[-1] is None


def test_sign_in_silently_reuses_the_cached_account(nbsession, admin):
    assert nbsession.sign_in_silently(username=ALICE) is None  # nothing cached yet
    sign_in(nbsession, admin, ALICE)
    sign_in(nbsession, admin, BOB)

    account = nbsession.sign_in_silently(username=ALICE)

    assert account is not None and account.username == ALICE
    assert nbsession.account == account and account.tenant_id == CONTOSO
    admin.revoke(BOB)
    # Bob's refresh token is revoked: only a person can fix that.
    assert nbsession.sign_in_silently(username=BOB, scopes=[GRAPH_SCOPE]) is None


def test_interaction_handler_is_called_once_and_can_retry(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    admin.revoke(ALICE)
    calls: list[tuple[type, tuple]] = []

    def handler(error, *, scopes, tenant_id, claims, enable_cae):
        calls.append((type(error), scopes))
        sign_in(nbsession, admin, ALICE)  # what the inline re-prompt does
        return True

    nbsession.tokens.interaction_handler = handler
    token = nbsession.credential().get_token(GRAPH_SCOPE)

    assert calls == [(InteractionRequired, (GRAPH_SCOPE,))]
    assert jwt_claims(token.token)["upn"] == ALICE


def test_interaction_handler_declining_raises_the_original_error(nbsession, admin):
    calls: list[object] = []
    nbsession.tokens.interaction_handler = lambda error, **kw: calls.append(error) or False
    with pytest.raises(AuthenticationRequired):
        nbsession.credential().get_token(GRAPH_SCOPE)
    assert calls == []  # nobody signed in: nothing to re-prompt for
    sign_in(nbsession, admin, ALICE)
    admin.revoke(ALICE)
    with pytest.raises(InteractionRequired) as caught:
        nbsession.credential().get_token(GRAPH_SCOPE)
    assert calls == [caught.value]


def test_token_expiries_never_hold_tokens(nbsession, admin):
    sign_in(nbsession, admin, ALICE)
    token = nbsession.credential().get_token(STORAGE_SCOPE)
    [(key, expires_on)] = nbsession.tokens.store.expiries()
    assert key.scopes == (STORAGE_SCOPE,) and int(expires_on) == token.expires_on
    assert token.token not in repr(nbsession.tokens.store.expiries())


def test_login_passes_a_claims_challenge_to_the_device_code_request(nbsession, admin):
    claims = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    signin = nbsession.login(prompt=approving_prompt(admin, ALICE), claims=claims)
    assert signin.status == "succeeded"
    [request] = [r for r in admin.requests() if r["endpoint"] == "devicecode"]
    assert request["status"] == 200


def test_refresh_on_is_the_moment_the_credential_refreshes(nbsession, admin, clock):
    """azure-core asks again at ``refresh_on``: at that second the credential must refresh, not
    hand back the old token (issue 11: it was up to 1 s early, rounded down)."""
    admin.settings(access_token_lifetime_s=20)
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    for _ in range(4):
        info = credential.get_token_info(STORAGE_SCOPE)
        before = len(token_requests(admin))
        clock.offset = info.refresh_on - time.time()  # the clock reads refresh_on exactly
        fresh = [credential.get_token_info(STORAGE_SCOPE) for _ in range(8)]
        assert len(token_requests(admin)) == before + 1, "no refresh at refresh_on"
        assert fresh[-1].token != info.token
