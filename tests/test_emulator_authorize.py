"""The emulator's authorization endpoint and authorization_code grant, driven by real msal.

msal builds the request (PKCE S256, state, nonce) and redeems the code; the "browser" is plain
HTTP against the emulator's page. No listener is needed: the answer is read from the 302 or
the form_post page and handed to msal as a browser would deliver it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from _core_fixtures import ALICE, ARM_SCOPE, BOB, CONTOSO, jwt_claims
from _user_method_fixtures import parse_forms

# msal warns on query mode (its default); the emulator serves both, and query is tested here.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")

REDIRECT = "http://localhost:8400"
CAROL = "carol@fabrikam.example"


def _pick(page: requests.Response, username: str, action: str = "approve") -> requests.Response:
    forms = parse_forms(page.text)
    form = forms.forms[0]
    assert "request" in form["fields"], page.text
    return requests.post(
        page.url.split("?")[0],
        data={**form["fields"], "username": username, "action": action},
        allow_redirects=False,
        timeout=10,
    )


def _query_answer(response: requests.Response) -> dict:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _form_post_answer(response: requests.Response) -> tuple[str, dict]:
    form = parse_forms(response.text).forms[0]
    return form["action"], form["fields"]


def test_query_mode_code_redeemed_by_msal_with_pkce_and_nonce(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    assert "code_challenge_method=S256" in flow["auth_uri"]

    answer = _query_answer(_pick(requests.get(flow["auth_uri"], timeout=10), ALICE))
    assert answer["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, answer)

    assert "access_token" in result, result.get("error_description")
    claims = jwt_claims(result["access_token"])
    assert claims["upn"] == ALICE and claims["tid"] == CONTOSO
    assert claims["aud"] == "https://management.azure.com/"
    assert result["id_token_claims"]["preferred_username"] == ALICE
    assert "refresh_token" in result  # msal asked for offline_access
    assert [a["username"] for a in app.get_accounts()] == [ALICE]
    grants = [r for r in emu_admin.requests() if r.get("grant_type") == "authorization_code"]
    assert len(grants) == 1 and grants[0]["status"] == 200


def test_form_post_mode_answers_with_an_auto_submitting_form(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow(
        [ARM_SCOPE], redirect_uri=REDIRECT, response_mode="form_post"
    )
    page = _pick(requests.get(flow["auth_uri"], timeout=10), BOB)

    assert page.status_code == 200 and "document.forms[0].submit()" in page.text
    action, fields = _form_post_answer(page)
    assert action == REDIRECT and fields["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert jwt_claims(result["access_token"])["upn"] == BOB
    # bob must do MFA on the page, so his token says so.
    assert "mfa" in jwt_claims(result["access_token"])["amr"]


def test_wrong_code_verifier_is_refused_and_the_code_is_then_still_unredeemed(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(_pick(requests.get(flow["auth_uri"], timeout=10), ALICE))
    right = flow["code_verifier"]

    flow["code_verifier"] = right[:-4] + "AAAA"
    bad = app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert bad["error"] == "invalid_grant" and 501481 in bad["error_codes"]

    flow["code_verifier"] = right
    good = app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert "access_token" in good


def test_code_is_single_use(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(_pick(requests.get(flow["auth_uri"], timeout=10), ALICE))
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), answer)
    again = app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert again["error"] == "invalid_grant" and 54005 in again["error_codes"]


def test_redirect_uri_must_match_the_one_of_the_request(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(_pick(requests.get(flow["auth_uri"], timeout=10), ALICE))
    flow["redirect_uri"] = "http://localhost:9999"
    result = app.acquire_token_by_auth_code_flow(dict(flow), answer)
    assert result["error"] == "invalid_grant" and 500112 in result["error_codes"]


def test_non_loopback_redirect_uri_is_an_error_page_not_a_redirect(emulator, emu_admin):
    query = urlencode(
        {
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "response_type": "code",
            "redirect_uri": "https://attacker.example/cb",
            "scope": ARM_SCOPE,
            "state": "s",
        }
    )
    page = requests.get(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/authorize?{query}",
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 400 and "location" not in page.headers
    assert "AADSTS50011" in page.text and "attacker.example/cb" in page.text


def test_unknown_client_is_an_error_page(emulator, emu_admin):
    page = requests.get(
        f"{emulator['authority_host']}/organizations/oauth2/v2.0/authorize",
        params={"client_id": "11111111-2222-3333-4444-555555555555", "redirect_uri": REDIRECT},
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 400 and "AADSTS700016" in page.text


def test_decline_redirects_access_denied_with_state(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(
        _pick(requests.get(flow["auth_uri"], timeout=10), ALICE, action="decline")
    )
    assert answer["error"] == "access_denied" and answer["state"] == flow["state"]
    assert "AADSTS65004" in answer["error_description"]
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert result["error"] == "access_denied"  # msal hands the error back as-is


def test_tenant_path_limits_who_may_sign_in(msal_app, emu_admin):
    app = msal_app(tenant=CONTOSO)
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    page = requests.get(flow["auth_uri"], timeout=10)
    assert CAROL not in page.text  # the picker offers Contoso's members and guests only
    answer = _query_answer(_pick(page, CAROL))
    assert answer["error"] == "access_denied"


def test_prompt_none_with_login_hint_answers_at_once(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow(
        [ARM_SCOPE], redirect_uri=REDIRECT, prompt="none", login_hint=BOB
    )
    answer = _query_answer(requests.get(flow["auth_uri"], allow_redirects=False, timeout=10))
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert jwt_claims(result["access_token"])["upn"] == BOB


def test_prompt_none_without_a_hint_is_login_required(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT, prompt="none")
    answer = _query_answer(requests.get(flow["auth_uri"], allow_redirects=False, timeout=10))
    assert answer["error"] == "login_required" and "AADSTS50058" in answer["error_description"]


def test_auto_approve_setting_answers_without_the_picker(msal_app, emu_admin):
    emu_admin.settings(auto_approve=ALICE)
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(requests.get(flow["auth_uri"], allow_redirects=False, timeout=10))
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert jwt_claims(result["access_token"])["upn"] == ALICE


def test_login_hint_preselects_the_account_on_the_page(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT, login_hint=BOB)
    forms = parse_forms(requests.get(flow["auth_uri"], timeout=10).text)
    assert [v for _, v, checked in forms.radios if checked] == [BOB]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": ""}, "invalid_request"),
        ({"code_challenge_method": "S512"}, "invalid_request"),
    ],
)
def test_bad_requests_are_sent_back_to_the_redirect_uri(msal_app, emu_admin, change, error):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    parts = urlsplit(flow["auth_uri"])
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(change)
    url = parts._replace(query=urlencode(params)).geturl()
    answer = _query_answer(requests.get(url, allow_redirects=False, timeout=10))
    assert answer["error"] == error and answer["state"] == flow["state"]


def test_codes_are_listed_as_issued_secrets(msal_app, emu_admin):
    app = msal_app()
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT)
    answer = _query_answer(_pick(requests.get(flow["auth_uri"], timeout=10), ALICE))
    assert answer["code"] in emu_admin.issued()["authorization_codes"]
