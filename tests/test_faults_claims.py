"""A claims challenge from a resource: ARM answers 401 with
``WWW-Authenticate: Bearer ... error="insufficient_claims", claims="<base64 JSON>"`` (what
Continuous Access Evaluation and Conditional Access send).

azure-core's ``BearerTokenCredentialPolicy`` handles it once: it asks the credential for a token
with those claims and retries the request. nbauth bypasses its stored token for that (the resource
rejected it) and asks Entra again with the claims. When Entra wants the person for that (MFA),
the main thread of a notebook shows the sign-in inline with the reason; elsewhere the error says
what to do. Real azure-core pipeline, real msal, the emulator's ARM and identity endpoints.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time

import pytest
from _audit_fixtures import assert_no_leak, token_calls
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
    poller_threads,
    sign_in,
)
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nbauth._errors import InteractionRequired
from nbauth._ui.reprompt import install

CLAIMS = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1700000000"}}})
ENCODED = base64.urlsafe_b64encode(CLAIMS.encode()).decode().rstrip("=")
MFA_REQUIRED = {
    "error": "interaction_required",
    "error_description": "AADSTS50076: Due to a configuration change made by your administrator, "
    "you must use multi-factor authentication to access this resource.",
    "error_codes": [50076],
    "suberror": "basic_action",
}


def challenge_fault(admin, authority_host: str, count: int = 1) -> None:
    header = (
        f'Bearer authorization_uri="{authority_host}/common/oauth2/authorize", '
        f'error="insufficient_claims", claims="{ENCODED}"'
    )
    admin.fault(
        "arm",
        status=401,
        body={"error": {"code": "InvalidAuthenticationToken", "message": "claims required"}},
        headers={"WWW-Authenticate": header},
        count=count,
    )


def arm_client(credential):
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy

    endpoint = os.environ["NBAUTH_ARM_ENDPOINT"]
    policy = BearerTokenCredentialPolicy(credential, ARM_SCOPE)
    return PipelineClient(endpoint, policies=[policy]), endpoint


def list_subscriptions(credential):
    from azure.core.rest import HttpRequest

    client, endpoint = arm_client(credential)
    return client.send_request(
        HttpRequest("GET", f"{endpoint}subscriptions?api-version=2022-12-01")
    )


def arm_statuses(admin) -> list:
    return [r["status"] for r in admin.requests() if r.get("endpoint") == "arm"]


@pytest.fixture
def signed_in(nbsession, admin, emulator):
    sign_in(nbsession, admin, ALICE)
    credential = nbsession.credential()
    credential.get_token(ARM_SCOPE)
    admin.clear_requests()
    return nbsession, credential


def test_claims_challenge_is_handled_once_silently(signed_in, admin, emulator):
    session, credential = signed_in
    before = credential.get_token(ARM_SCOPE).token
    challenge_fault(admin, emulator["authority_host"])

    response = list_subscriptions(credential)

    assert response.status_code == 200
    assert arm_statuses(admin) == [401, 200]  # challenged once, retried once
    assert [r["grant_type"] for r in token_calls(admin)] == ["refresh_token"]  # one new token
    # The stored token was not replaced by the claims token: plain calls keep using it.
    assert credential.get_token(ARM_SCOPE).token == before
    assert len(token_calls(admin)) == 1


def test_a_challenge_that_keeps_coming_is_not_looped_on(signed_in, admin, emulator):
    session, credential = signed_in
    challenge_fault(admin, emulator["authority_host"], count=5)

    response = list_subscriptions(credential)

    assert response.status_code == 401  # handed to the caller, as azure-core does
    assert arm_statuses(admin) == [401, 401]
    assert len(token_calls(admin)) == 1


def test_claims_that_need_the_person_raise_a_clear_error_off_the_main_thread(
    signed_in, admin, emulator
):
    session, credential = signed_in
    install(session, ui="text")  # present, but no person can be asked from a worker thread
    challenge_fault(admin, emulator["authority_host"])
    admin.fault("token", status=400, body=MFA_REQUIRED)

    errors: list[BaseException] = []

    def call():
        try:
            list_subscriptions(credential)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(30)
    [error] = errors
    assert isinstance(error, InteractionRequired)
    assert error.aadsts == 50076
    assert "multi-factor" in str(error) and "%azlogin" in str(error), str(error)
    assert [r["endpoint"] for r in admin.requests() if r["endpoint"] == "devicecode"] == []
    assert_no_leak([str(error), repr(error)], admin, "the error")


def test_claims_that_need_the_person_are_shown_inline_then_the_call_goes_on(
    signed_in, admin, emulator
):
    """On the main thread of an IPython shell (a notebook cell), the sign-in appears in the
    cell that made the call, with the reason, and the call goes on once the person signs in."""
    session, credential = signed_in
    shell = InteractiveShell.instance()
    install(session, ui="text")
    challenge_fault(admin, emulator["authority_host"])
    admin.fault("token", status=400, body=MFA_REQUIRED)
    approved: list[str] = []

    def person():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not approved:
            pending = admin.pending()
            if pending:
                approved.append(admin.approve(ALICE, pending[-1]["user_code"])["user_code"])
            time.sleep(0.05)

    helper = threading.Thread(target=person, daemon=True)
    helper.start()
    shell.user_ns.update(list_subscriptions=list_subscriptions, credential=credential)
    with capture_output() as captured:
        result = shell.run_cell("status = list_subscriptions(credential).status_code")
    helper.join(10)

    assert result.success, captured.stdout
    assert shell.user_ns["status"] == 200
    out = captured.stdout
    assert out.startswith("Azure needs you to sign in again."), out
    assert "Multi-factor authentication" in out and f"Sign in as {ALICE}." in out
    assert len(approved) == 1
    assert len([r for r in admin.requests() if r["endpoint"] == "devicecode"]) == 1
    assert arm_statuses(admin) == [401, 200]
    assert poller_threads() == []
    assert_no_leak([out], admin, "the cell output", kinds_expected=["access_tokens"])
