"""The browser sign-in finished by pasting back the address (issue 12), from Python.

A remote kernel (``NBAUTH_KERNEL_LOCATION=remote``): ``nbauth.login("browser", wait=False)``
returns at once; the person opens ``prompt.verification_uri`` (here a `FakeBrowser` that picks a
user on the emulator's page and stops where a real browser shows "can't reach localhost"), and
``signin.complete(address)`` finishes it. Real msal, real HTTP to the emulator.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    CONTOSO,
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
)
from _persistence_fixtures import cache_dir_fixture, persisted_fixture  # noqa: F401
from _user_method_fixtures import FakeBrowser, arm_subscription_ids

from nbauth import PastedAddressError
from nbauth._errors import AuthenticationError, SignInDeclined
from nbauth._prompt import BrowserPrompt


@pytest.fixture
def remote_kernel(monkeypatch):
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")


def token_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "token"]


def authorize_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "authorize"]


def _with(address: str, **changes: str | None) -> str:
    parts = urlsplit(address)
    fields = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return urlunsplit(parts._replace(query=urlencode(fields)))


def _signed_in_elsewhere(signin, username=ALICE, action="approve") -> str:
    browser = FakeBrowser(username, action=action, follow=False)
    browser(signin.prompt.verification_uri)
    assert browser.ended_on is not None
    return browser.ended_on


def test_remote_browser_sign_in_is_finished_by_the_pasted_address(nbsession, admin, remote_kernel):
    signin = nbsession.login("browser", wait=False)
    assert signin.status == "pending" and isinstance(signin.prompt, BrowserPrompt)
    assert signin.prompt.redirect_uri.startswith("http://localhost:")
    assert "response_mode=query" in signin.prompt.verification_uri
    address = _signed_in_elsewhere(signin)
    assert signin.status == "pending"  # nobody listens on a remote kernel's localhost
    account = signin.complete(address)
    assert account.username == ALICE and signin.wait() == account
    assert nbsession.account.username == ALICE
    assert arm_subscription_ids(nbsession.credential())
    # The whole sign-in: the authorize page and one token request (plus the ARM token).
    assert len(authorize_requests(admin)) >= 1
    assert [r.get("grant_type") for r in token_requests(admin)][:1] == ["authorization_code"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"state": "another-sign-ins-state"}, "another sign-in"),
        ({"code": None}, "no sign-in answer"),
    ],
)
def test_a_wrong_address_is_refused_and_the_sign_in_waits(
    nbsession, admin, remote_kernel, change, says
):
    signin = nbsession.login("browser", wait=False)
    address = _signed_in_elsewhere(signin)
    with pytest.raises(PastedAddressError, match=says):
        signin.complete(_with(address, **change))
    assert signin.status == "pending"
    assert signin.complete(address).username == ALICE


@pytest.mark.parametrize("garbage", ["", "hello", "localhost:1234", "x" * 9000, 42])
def test_garbage_is_refused_without_being_repeated(nbsession, remote_kernel, garbage):
    signin = nbsession.login("browser", wait=False)
    with pytest.raises(PastedAddressError) as caught:
        signin.complete(garbage)
    if isinstance(garbage, str) and garbage:
        assert garbage[:20] not in str(caught.value)
    assert signin.status == "pending"
    signin.cancel()


def test_access_denied_declines_the_sign_in(nbsession, admin, remote_kernel):
    signin = nbsession.login("browser", wait=False)
    address = _signed_in_elsewhere(signin, action="decline")
    assert "error=access_denied" in address
    with pytest.raises(SignInDeclined):
        signin.complete(address)
    assert signin.status == "declined"


def test_a_used_code_is_refused_and_the_sign_in_can_still_finish(nbsession, admin, remote_kernel):
    first = nbsession.login("browser", wait=False)
    address = _signed_in_elsewhere(first)
    first.complete(address)
    second = nbsession.login("browser", wait=False)
    other = _signed_in_elsewhere(second, BOB)
    code = parse_qs(urlsplit(address).query)["code"][0]
    with pytest.raises(AuthenticationError) as caught:  # Entra's refusal, said in words
        second.complete(_with(other, code=code))
    assert code not in str(caught.value)
    assert second.status == "pending"
    assert second.complete(other).username == BOB


def test_a_code_from_one_sign_in_cannot_complete_another(nbsession, admin, remote_kernel):
    first = nbsession.login("browser", wait=False)
    address = _signed_in_elsewhere(first)
    first.cancel()
    second = nbsession.login("browser", wait=False)
    with pytest.raises(PastedAddressError, match="another sign-in"):
        second.complete(address)
    assert second.status == "pending"
    second.cancel()


def _device_code_refused(admin, session, tenant="organizations"):
    """A device-code sign-in the person approves on the page, which Entra (the emulator with
    Conditional Access) then refuses: the same sign-in goes on in the browser."""
    admin.settings(block_device_code=True)
    seen: list[object] = []

    def prompt(p) -> None:
        seen.append(p)
        if p.user_code:  # the device code: the person enters it and picks an account
            admin.approve(ALICE, p.user_code)

    signin = session.login("device_code", tenant=tenant, wait=False, prompt=prompt)
    deadline = time.monotonic() + 20
    while not isinstance(signin.prompt, BrowserPrompt):
        assert time.monotonic() < deadline, "never switched to the browser"
        assert signin.status == "pending", signin.error
        time.sleep(0.05)
    return signin, seen


def test_device_code_refused_goes_on_in_the_browser_in_the_same_sign_in(
    nbsession, admin, remote_kernel
):
    signin, seen = _device_code_refused(admin, nbsession)
    assert "AADSTS53003" in signin.prompt.reason
    assert [type(p).__name__ for p in seen] == ["DeviceCodePrompt", "BrowserPrompt"]
    assert signin.complete(_signed_in_elsewhere(signin)).username == ALICE
    assert signin.status == "succeeded" and signin.method == "device_code"
    assert nbsession.account.method == "browser"


def test_a_refusing_tenant_goes_straight_to_the_browser_next_time(
    nbsession, admin, remote_kernel
):
    first, _ = _device_code_refused(admin, nbsession, CONTOSO)
    first.cancel()
    before = len([r for r in admin.requests() if r.get("endpoint") == "devicecode"])
    again = nbsession.login("device_code", tenant=CONTOSO, wait=False)
    assert isinstance(again.prompt, BrowserPrompt) and "earlier" in again.prompt.reason
    assert len([r for r in admin.requests() if r.get("endpoint") == "devicecode"]) == before
    again.cancel()
    other = nbsession.login("device_code", tenant="fabrikam.example", wait=False)
    assert not isinstance(other.prompt, BrowserPrompt)  # only the tenant that refused
    other.cancel()


def test_the_refusal_is_remembered_by_the_next_kernel_with_persistence(
    persisted, admin, remote_kernel, cache_dir
):
    first, _ = _device_code_refused(admin, persisted("reauth"), CONTOSO)
    first.cancel()
    restarted = persisted("reauth")
    signin = restarted.login("device_code", tenant=CONTOSO, wait=False)
    assert isinstance(signin.prompt, BrowserPrompt)
    signin.cancel()
    nothing_saved = persisted("none", cache_dir=str(cache_dir.parent / "elsewhere"))
    assert CONTOSO not in nothing_saved.device_code_refusals
