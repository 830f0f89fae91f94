"""`EmulatorAdmin.pick_account`: the emulator's stand-in for a person's browser on the sign-in
page, and the PKCE verifiers the token endpoint received, listed by ``/issued`` for the leak audit.

Real msal builds the authorization request and redeems what the helper returns; the helper
speaks plain HTTPS to the emulator's page as a browser does.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from _core_fixtures import ALICE, ARM_SCOPE, BOB, jwt_claims

from nbauth.emulator import AdminCallError

pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")

REDIRECT = "http://localhost:8400"


def _fields(address: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}


def _flow(msal_app, **kwargs):
    app = msal_app()
    return app, app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT, **kwargs)


def test_pick_account_returns_the_address_the_browser_ends_on(msal_app, emu_admin):
    app, flow = _flow(msal_app, response_mode="query")

    address = emu_admin.pick_account(flow["auth_uri"], BOB)

    assert address.startswith(REDIRECT + "?code=")
    fields = _fields(address)
    assert fields["state"] == flow["state"]
    assert fields["code"] in emu_admin.issued()["authorization_codes"]
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert jwt_claims(result["access_token"])["upn"] == BOB
    # As a browser does: the page, then the picked account (two requests), nothing followed.
    assert [r["status"] for r in emu_admin.requests() if r["endpoint"] == "authorize"] == [
        200,
        302,
    ]


def test_declining_returns_the_access_denied_address(msal_app, emu_admin):
    _, flow = _flow(msal_app, response_mode="query")

    fields = _fields(emu_admin.pick_account(flow["auth_uri"], ALICE, action="decline"))

    assert fields["error"] == "access_denied" and fields["state"] == flow["state"]
    assert "code" not in fields


def test_an_auto_approved_page_answers_at_once(msal_app, emu_admin):
    emu_admin.settings(auto_approve=ALICE)
    _, flow = _flow(msal_app, response_mode="query")

    fields = _fields(emu_admin.pick_account(flow["auth_uri"], BOB))

    assert "code" in fields  # the emulator answered as Alice before anyone could pick
    assert [r["status"] for r in emu_admin.requests() if r["endpoint"] == "authorize"] == [302]


def test_a_form_post_sign_in_has_no_address_to_return(msal_app, emu_admin):
    _, flow = _flow(msal_app, response_mode="form_post")

    with pytest.raises(AdminCallError, match="form_post"):
        emu_admin.pick_account(flow["auth_uri"], ALICE)


def test_a_refused_request_says_what_the_page_says(emulator, emu_admin):
    url = f"{emulator['authority_host']}/organizations/oauth2/v2.0/authorize?client_id=unknown"

    with pytest.raises(AdminCallError, match="AADSTS700016"):
        emu_admin.pick_account(url, ALICE)


def test_only_loopback_pages_are_opened(emu_admin):
    with pytest.raises(AdminCallError, match="loopback"):
        emu_admin.pick_account(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize", BOB
        )


def test_the_pkce_verifiers_the_token_endpoint_received_are_listed_as_issued(msal_app, emu_admin):
    """The verifier is a secret of the client until it is used; the leak audit searches every
    output for the ones listed here. A wrong one is listed too: it was sent, so it is known."""
    app, flow = _flow(msal_app, response_mode="query")
    right = flow["code_verifier"]
    fields = _fields(emu_admin.pick_account(flow["auth_uri"], ALICE))
    wrong = right[:-4] + "AAAA"

    refused = app.acquire_token_by_auth_code_flow({**flow, "code_verifier": wrong}, fields)
    result = app.acquire_token_by_auth_code_flow(flow, fields)

    assert "AADSTS501481" in refused.get("error_description", "")
    assert "access_token" in result
    verifiers = emu_admin.issued()["code_verifiers"]
    assert verifiers[-2:] == [wrong, right]
    # The request log keeps no secret: grant type and client id only.
    assert all(right not in str(r) for r in emu_admin.requests())
