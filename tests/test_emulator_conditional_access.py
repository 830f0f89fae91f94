"""The emulator's Conditional Access (a tenant that blocks device code) and the authorization-code
answers a person pastes back (``response_mode=query``), driven by real msal.

Device code blocked, as Entra does it (Azure/azure-cli#32420, #32809): the code is issued, the
person enters it and picks an account, the page then says "You don't have access to this ...
Error Code: 53003", and the polling app gets AADSTS53003. The browser is plain HTTP against the
emulator's pages; the address the browser would end on is the 302's Location.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from _core_fixtures import ALICE, ARM_SCOPE, BOB, CONTOSO, FABRIKAM, jwt_claims
from _emulator_process import emulator_command, subprocess_env, wait_for_ready_file
from _user_method_fixtures import parse_forms

from nbauth.emulator import AdminCallError, Emulator

# msal recommends form_post; query mode is the one whose answer a person can copy.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")

CAROL = "carol@fabrikam.example"  # member of Fabrikam only
REDIRECT = "http://localhost:8400"
BLOCKED_TEXT = (
    "AADSTS53003: Access has been blocked by Conditional Access policies. "
    "The access policy does not allow token issuance.\r\nTrace ID: "
)
CODE_LIFETIME_S = 600  # Entra's authorization codes live 10 minutes


@pytest.fixture(autouse=True)
def fresh_emulator(emu_admin):
    """Each test starts from the seed's settings and leaves no block or clock offset behind."""
    emu_admin.settings(device_code_interval_s=1)
    yield
    emu_admin.reset()


def _browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _sign_in_on_the_page(emulator, user_code: str, username: str) -> requests.Response:
    """What a person does: enter the code, see the account picker, pick and approve."""
    browser, url = _browser(), emulator["device_login_url"]
    picker = browser.post(url, data={"otc": user_code})
    assert "Pick an account" in picker.text and username in picker.text
    return browser.post(
        f"{url}/confirm", data={"otc": user_code, "username": username, "action": "approve"}
    )


def _assert_blocked(result: dict) -> None:
    assert result["error"] == "invalid_grant", result
    assert result["error_codes"] == [53003]
    assert result["suberror"] == "message_only"
    assert result["error_description"].startswith(BLOCKED_TEXT)
    assert result["error_uri"].endswith("/error?code=53003")
    assert "access_token" not in result and "refresh_token" not in result


# -- device code blocked ------------------------------------------------------------------------


def test_blocked_everywhere_page_refuses_after_the_account_pick_and_msal_gets_53003(
    emulator, emu_admin, msal_app
):
    emu_admin.settings(block_device_code=True)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert "user_code" in flow  # Entra issues the code: the policy speaks at sign-in
    issued_before = len(emu_admin.issued()["access_tokens"])

    page = _sign_in_on_the_page(emulator, flow["user_code"], ALICE)

    assert page.status_code == 200
    assert "You don't have access to this" in page.text
    assert "Your sign-in was successful but does not meet the criteria" in page.text
    assert "Error Code: 53003" in page.text
    assert "App id: 04b07795-8ddb-461a-bbee-02f9e1bf7b46" in page.text
    assert "You're signed in" not in page.text
    _assert_blocked(app.acquire_token_by_device_flow(flow))
    assert len(emu_admin.issued()["access_tokens"]) == issued_before
    assert app.get_accounts() == []


def test_a_list_blocks_only_those_tenants(emulator, emu_admin, msal_app):
    emu_admin.settings(block_device_code=["fabrikam.example"])

    blocked_app = msal_app(tenant=FABRIKAM)
    flow = blocked_app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert emu_admin.approve(ALICE, flow["user_code"])["status"] == "blocked"
    _assert_blocked(blocked_app.acquire_token_by_device_flow(flow))

    open_app = msal_app(tenant="contoso.example")
    flow = open_app.initiate_device_flow(scopes=[ARM_SCOPE])
    assert emu_admin.approve(ALICE, flow["user_code"])["status"] == "approved"
    result = open_app.acquire_token_by_device_flow(flow)
    assert jwt_claims(result["access_token"])["tid"] == CONTOSO


def test_organizations_sign_in_is_judged_by_the_users_home_tenant(emulator, emu_admin, msal_app):
    emu_admin.settings(block_device_code=[FABRIKAM])
    app = msal_app()  # organizations

    carol = app.initiate_device_flow(scopes=[ARM_SCOPE])
    page = _sign_in_on_the_page(emulator, carol["user_code"], CAROL)
    assert "Error Code: 53003" in page.text
    _assert_blocked(app.acquire_token_by_device_flow(carol))

    bob = app.initiate_device_flow(scopes=[ARM_SCOPE])
    page = _sign_in_on_the_page(emulator, bob["user_code"], BOB)
    assert "You're signed in" in page.text
    assert jwt_claims(app.acquire_token_by_device_flow(bob)["access_token"])["upn"] == BOB


def test_auto_approval_meets_the_block_too(emulator, emu_admin, msal_app):
    emu_admin.settings(block_device_code=True, auto_approve=ALICE, auto_approve_delay_s=0)
    app = msal_app()
    _assert_blocked(app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=[ARM_SCOPE])))


def test_false_and_reset_lift_the_block(emulator, emu_admin, msal_app, device_sign_in):
    emu_admin.settings(block_device_code=True)
    assert emu_admin.settings(block_device_code=[])["block_device_code"] == []
    assert "access_token" in device_sign_in(msal_app(), ALICE)
    emu_admin.settings(block_device_code=True)
    assert emu_admin.reset()["settings"]["block_device_code"] is False


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("yes", "must be true, false or a list of tenant ids or domains"),
        (1, "must be true, false or a list of tenant ids or domains"),
        ({"tenants": ["contoso.example"]}, "must be true, false or a list"),
        ([3], "must be true, false or a list"),
        (["contoso.example", "nowhere.example"], "unknown tenant(s) ['nowhere.example']"),
    ],
)
def test_bad_setting_values_are_a_400_that_says_what_is_allowed(emu_admin, value, says):
    with pytest.raises(AdminCallError) as refused:
        emu_admin.settings(block_device_code=value)
    assert refused.value.status == 400
    assert says in refused.value.message
    assert emu_admin.settings()["block_device_code"] is False  # nothing changed


# -- the authorization code a person pastes back (response_mode=query) --------------------------


def _pick(page: requests.Response, username: str, action: str = "approve") -> requests.Response:
    form = parse_forms(page.text).forms[0]
    return requests.post(
        page.url.split("?")[0],
        data={**form["fields"], "username": username, "action": action},
        allow_redirects=False,
        timeout=10,
    )


def _pasted_address(app, username: str = ALICE, action: str = "approve") -> tuple[dict, str]:
    """A query-mode sign-in up to the address the browser ends on (the 302's Location)."""
    flow = app.initiate_auth_code_flow([ARM_SCOPE], redirect_uri=REDIRECT, response_mode="query")
    answer = _pick(requests.get(flow["auth_uri"], timeout=10), username, action)
    assert answer.status_code == 302, answer.text
    return flow, answer.headers["location"]


def _query(address: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}


def test_query_mode_address_carries_code_state_and_session_state_and_msal_redeems_it(msal_app):
    app = msal_app()
    flow, address = _pasted_address(app)

    assert address.startswith(REDIRECT + "?")
    fields = _query(address)
    assert set(fields) == {"code", "state", "session_state"}
    assert fields["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert jwt_claims(result["access_token"])["upn"] == ALICE


def test_pasted_code_is_single_use_and_bound_to_the_pkce_verifier(msal_app):
    app = msal_app()
    flow, address = _pasted_address(app)
    right = flow["code_verifier"]

    tampered = app.acquire_token_by_auth_code_flow(
        {**flow, "code_verifier": right[:-4] + "AAAA"}, _query(address)
    )
    assert tampered["error"] == "invalid_grant" and tampered["error_codes"] == [501481]
    assert "access_token" in app.acquire_token_by_auth_code_flow(dict(flow), _query(address))
    reused = app.acquire_token_by_auth_code_flow(dict(flow), _query(address))
    assert reused["error"] == "invalid_grant" and reused["error_codes"] == [54005]


def test_a_code_redeemed_after_ten_minutes_is_refused_with_aadsts70008(emu_admin, msal_app):
    app = msal_app()
    in_time, in_time_address = _pasted_address(app)
    emu_admin.advance_clock(CODE_LIFETIME_S - 30)
    assert "access_token" in app.acquire_token_by_auth_code_flow(in_time, _query(in_time_address))

    late, late_address = _pasted_address(app)
    emu_admin.advance_clock(CODE_LIFETIME_S + 1)
    result = app.acquire_token_by_auth_code_flow(late, _query(late_address))

    assert result["error"] == "invalid_grant" and result["error_codes"] == [70008]
    assert result["error_description"].startswith(
        "AADSTS70008: The provided authorization code or refresh token has expired due to "
        "inactivity."
    )


def test_the_emulator_clock_expires_device_codes_too(emu_admin, msal_app):
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM_SCOPE])
    emu_admin.advance_clock(flow["expires_in"] + 1)
    assert emu_admin.pending() == []
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "expired_token" and result["error_codes"] == [70020]


def test_clock_offset_must_be_a_finite_number(emu_admin):
    with pytest.raises(AdminCallError) as refused:
        emu_admin.settings(clock_offset_s=float("inf"))
    assert refused.value.status == 400 and "finite" in refused.value.message


def test_declining_in_query_mode_sends_access_denied_with_entras_fields(msal_app):
    app = msal_app()
    flow, address = _pasted_address(app, action="decline")

    fields = _query(address)
    assert fields["error"] == "access_denied" and fields["state"] == flow["state"]
    assert re.fullmatch(
        r"AADSTS65004: User declined to consent to access the app\.\r\nTrace ID: [0-9a-f-]{36}"
        r"\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ",
        fields["error_description"],
    )
    assert fields["error_uri"].endswith("/error?code=65004")
    assert "code" not in fields
    assert app.acquire_token_by_auth_code_flow(flow, fields)["error"] == "access_denied"


# -- seed, Emulator argument, command line --------------------------------------------------------


def _default_seed() -> dict:
    text = resources.files("nbauth.emulator").joinpath("default_seed.json").read_text("utf-8")
    return json.loads(text)


def test_seed_key_blocks_and_survives_reset_and_issued_lists_codes_from_the_start():
    with Emulator(seed={**_default_seed(), "block_device_code": ["fabrikam.example"]}) as emu:
        assert emu.info["block_device_code"] == ["fabrikam.example"]
        emu.admin.settings(block_device_code=False)
        assert emu.admin.reset()["settings"]["block_device_code"] == ["fabrikam.example"]
        # The leak audit reads every kind, before any code exists too.
        assert emu.admin.issued()["authorization_codes"] == []


def test_seed_and_argument_with_an_unknown_tenant_are_refused():
    from nbauth.emulator._seed import SeedError

    with pytest.raises(SeedError, match="refers to tenant .nowhere.example."):
        Emulator(seed={**_default_seed(), "block_device_code": ["nowhere.example"]})
    with pytest.raises(SeedError, match="must be true, false or a list"):
        Emulator(seed={**_default_seed(), "block_device_code": "yes"})
    with pytest.raises(ValueError, match="must be true, false or a list"):
        Emulator(block_device_code="contoso.example")


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--block-device-code"], {}, True),
        (["--block-device-code", "fabrikam.example"], {}, ["fabrikam.example"]),
        ([], {"NBAUTH_EMULATOR_BLOCK_DEVICE_CODE": "1"}, True),
        ([], {"NBAUTH_EMULATOR_BLOCK_DEVICE_CODE": f"contoso.example,{FABRIKAM}"},
         ["contoso.example", FABRIKAM]),
    ],
)  # fmt: skip
def test_command_line_flag_and_environment_variable(tmp_path, args, env, expected):
    ready, log = tmp_path / "ready.json", tmp_path / "log.txt"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            emulator_command("--ready-file", str(ready), *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(env),
        )
    try:
        info = wait_for_ready_file(proc, ready, log)
        settings = requests.get(f"{info['admin_url']}/settings", timeout=10).json()
        assert settings["block_device_code"] == expected
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert "device code        blocked by Conditional Access" in log.read_text()


def test_command_line_refuses_an_unknown_tenant(tmp_path):
    done = subprocess.run(
        emulator_command("--block-device-code", "nowhere.example"),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown tenant(s) ['nowhere.example']" in done.stderr
