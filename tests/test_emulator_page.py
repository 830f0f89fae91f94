"""The device-login page a person uses, over plain HTTP, ending in a successful msal poll."""

from __future__ import annotations

import re

import requests

ARM = "https://management.azure.com//.default"


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_enter_code_pick_account_approve_then_msal_gets_tokens(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app(tenant="fabrikam.example")
    flow = app.initiate_device_flow(scopes=[ARM])
    browser, url = _session(), emulator["device_login_url"]

    form = browser.get(url)
    assert form.status_code == 200
    assert 'name="otc"' in form.text and "Enter code" in form.text

    picker = browser.post(url, data={"otc": flow["user_code"].lower()})
    assert picker.status_code == 200
    assert "Pick an account" in picker.text and "Microsoft Azure CLI" in picker.text
    offered = re.findall(r'name="username" value="([^"]+)"', picker.text)
    assert offered == ["alice@contoso.example", "carol@fabrikam.example"]  # members and guests only

    done = browser.post(
        f"{url}/confirm",
        data={"otc": flow["user_code"], "username": "carol@fabrikam.example", "action": "approve"},
    )
    assert done.status_code == 200
    assert (
        "You have signed in to the <b>Microsoft Azure CLI</b> application on your device."
        in done.text
    )
    assert "You may now close this window." in done.text

    result = app.acquire_token_by_device_flow(flow)
    assert result["id_token_claims"]["preferred_username"] == "carol@fabrikam.example"


def test_decline_on_the_page(emulator, emu_admin, msal_app):
    emu_admin.settings(device_code_interval_s=1)
    app = msal_app()
    flow = app.initiate_device_flow(scopes=[ARM])
    page = _session().post(
        f"{emulator['device_login_url']}/confirm",
        data={"otc": flow["user_code"], "username": "alice@contoso.example", "action": "decline"},
    )
    assert "Sign-in declined" in page.text
    assert app.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"


def test_unknown_used_and_expired_codes_get_clear_messages(emulator, emu_admin, msal_app):
    browser, url = _session(), emulator["device_login_url"]
    unknown = browser.post(url, data={"otc": "ZZZZZZZZZ"})
    assert unknown.status_code == 400
    assert "That code was not found" in unknown.text

    app = msal_app()
    expired = app.initiate_device_flow(scopes=[ARM])
    emu_admin.expire(expired["user_code"])
    assert "has expired" in browser.post(url, data={"otc": expired["user_code"]}).text

    used = app.initiate_device_flow(scopes=[ARM])
    emu_admin.decline(used["user_code"])
    assert "already been used" in browser.post(url, data={"otc": used["user_code"]}).text

    assert "Enter the code" in browser.post(url, data={"otc": ""}).text


def test_code_in_the_query_prefills_the_form(emulator, emu_admin):
    page = _session().get(emulator["device_login_url"], params={"otc": '"><script>x</script>'})
    assert "<script>x</script>" not in page.text
    assert "&quot;&gt;&lt;script&gt;" in page.text
