"""Interactive browser sign-in: real msal, the emulator's authorize page, nbauth's listener.

The "browser" is a plain HTTP client (FakeBrowser) handed in as ``open_browser``; one test runs
the default path (Python's `webbrowser` with ``$BROWSER`` pointing at a script) in a fresh
interpreter, because `webbrowser` reads ``$BROWSER`` once per process.
"""

from __future__ import annotations

import _thread
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading

import pytest
import requests
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    CONTOSO,
    admin_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    token_requests,
)
from _emulator_process import REPO_ROOT, subprocess_env
from _user_method_fixtures import FakeBrowser, arm_subscription_ids

from nbauth._errors import ConfigurationError, SignInCancelled, SignInDeclined
from nbauth._methods._unavailable import MethodUnavailable


@pytest.fixture
def local_kernel(monkeypatch):
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")


@pytest.fixture
def hub_kernel(monkeypatch):
    monkeypatch.delenv("NBAUTH_KERNEL_LOCATION", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")


def authorize_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "authorize"]


def test_browser_sign_in_then_the_credential_works_with_arm(nbsession, admin, local_kernel, capsys):
    browser = FakeBrowser(ALICE)
    signin = nbsession.login("browser", open_browser=browser)

    assert signin.status == "succeeded" and signin.method == "browser"
    account = signin.account
    assert account.username == ALICE and account.method == "browser"
    assert account.tenant_id == CONTOSO and nbsession.account == account
    [url] = browser.urls
    assert "code_challenge_method=S256" in url and "response_mode=query" in url
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in url
    assert browser.redirect_status == 200  # the listener thanked the browser
    assert "c0a50001-0000-4000-8000-000000000001" in arm_subscription_ids(nbsession.credential())
    assert len(token_requests(admin, "authorization_code")) == 1
    out = capsys.readouterr().out
    assert "browser" in out
    assert_no_secret_in([out, repr(signin), repr(account)], issued_secrets(admin))


def test_later_tokens_come_from_the_refresh_token_not_a_new_browser(nbsession, admin, local_kernel):
    browser = FakeBrowser(ALICE)
    nbsession.login("browser", open_browser=browser)
    token = nbsession.credential().get_token("https://storage.azure.com/.default")
    assert token.token
    assert len(browser.urls) == 1
    assert len(token_requests(admin, "refresh_token")) == 1


def test_login_hint_preselects_the_account(nbsession, admin, local_kernel):
    browser = FakeBrowser(username=None)  # take the page's preselection
    signin = nbsession.login("browser", open_browser=browser, login_hint=BOB)
    assert signin.account.username == BOB
    assert "login_hint=bob%40contoso.example" in browser.urls[0]


def test_auto_approve_finishes_without_the_picker(nbsession, admin, local_kernel):
    admin.settings(auto_approve=ALICE)
    browser = FakeBrowser()
    assert nbsession.login("browser", open_browser=browser).account.username == ALICE
    assert browser.pages == []  # no picker: the authorize GET redirected with the code
    assert browser.ended_on is not None and "code=" in browser.ended_on


def test_declined_in_the_browser(nbsession, admin, local_kernel):
    with pytest.raises(SignInDeclined) as caught:
        nbsession.login("browser", open_browser=FakeBrowser(ALICE, action="decline"))
    assert "declined in the browser" in str(caught.value)
    assert nbsession.account is None


def test_cancel_closes_the_listener(nbsession, admin, local_kernel):
    browser = FakeBrowser(do_nothing=True)
    signin = nbsession.login("browser", open_browser=browser, wait=False)
    assert signin.status == "pending" and nbsession.pending is signin
    port = int(browser.urls[0].split("localhost%3A", 1)[1].split("&", 1)[0])

    assert signin.cancel() is True
    assert signin.status == "cancelled"
    with pytest.raises(SignInCancelled):
        signin.wait()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not token_requests(admin, "authorization_code")


def browser_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nbauth-browser")]


def test_stop_button_cancels_a_blocking_browser_sign_in(nbsession, admin, local_kernel):
    timers: list[threading.Timer] = []

    def opener(url: str) -> bool:
        # What the stop button does: KeyboardInterrupt in the main thread while login blocks.
        timers.append(threading.Timer(0.3, _thread.interrupt_main))
        timers[0].start()
        return True

    with pytest.raises(SignInCancelled):
        nbsession.login("browser", open_browser=opener)
    timers[0].join()
    assert browser_threads() == []  # the worker and the listener are gone
    assert nbsession.pending is None and nbsession.account is None


def test_an_answer_with_another_state_is_ignored(nbsession, admin, local_kernel):
    browser = FakeBrowser(do_nothing=True)
    signin = nbsession.login("browser", open_browser=browser, wait=False)
    port = int(browser.urls[0].split("localhost%3A", 1)[1].split("&", 1)[0])

    forged = requests.post(
        f"http://127.0.0.1:{port}", data={"code": "forged", "state": "other"}, timeout=5
    )
    assert forged.status_code == 400 and signin.status == "pending"

    browser.do_nothing = False
    browser(browser.urls[0])  # the person finishes the real sign-in
    assert signin.wait(timeout=30).username is not None
    assert len(token_requests(admin, "authorization_code")) == 1


def test_remote_kernel_shows_the_page_and_takes_the_pasted_address(
    nbsession, admin, hub_kernel, capsys
):
    """On JupyterHub the browser cannot reach the kernel: the person opens the page in their
    own browser and pastes back where it ended (tests/test_paste_back.py has the details)."""
    opener = FakeBrowser(ALICE)  # must not be used: there is no browser on a hub's machine
    signin = nbsession.login("browser", open_browser=opener, wait=False)
    assert opener.urls == [] and signin.status == "pending"
    printed = capsys.readouterr().out
    assert signin.prompt.verification_uri in printed and "paste it here" in printed
    person = FakeBrowser(ALICE, follow=False)
    person(signin.prompt.verification_uri)
    assert signin.complete(person.ended_on).username == ALICE
    assert signin.account.method == "browser"
    assert len(token_requests(admin, "authorization_code")) == 1
    assert not [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def test_remote_kernel_needs_no_fallback(nbsession, admin, hub_kernel):
    signin = nbsession.login("browser", fallback=False, wait=False)
    assert signin.status == "pending" and signin.prompt.redirect_uri.startswith("http://localhost:")
    signin.cancel()


def test_no_browser_falls_back_to_device_code(nbsession, admin, local_kernel, capsys):
    signin = nbsession.login(
        "browser", open_browser=lambda url: False, prompt=approving_prompt(admin, BOB)
    )
    assert signin.account.username == BOB and signin.account.method == "device_code"
    assert "no web browser could be opened" in capsys.readouterr().out


def test_what_the_method_says_goes_to_the_notice_callback_not_stdout(
    nbsession, admin, local_kernel, capsys
):
    """The prompt seam: a card (or a test) is told what the method has to say; nothing is
    printed past it."""
    notices: list[str] = []
    prompts: list[object] = []
    browser = FakeBrowser(ALICE)
    signin = nbsession.login(
        "browser", open_browser=browser, notice=notices.append, prompt=prompts.append
    )
    assert signin.account.username == ALICE
    assert notices == ["Opening the sign-in page in a browser on this machine..."]
    # The page and the paste field are shown too, for a browser the listener never hears from.
    assert [p.verification_uri for p in prompts] == browser.urls
    fallback: list[str] = []
    nbsession.login(
        "browser",
        open_browser=lambda url: False,
        prompt=approving_prompt(admin, BOB),
        notice=fallback.append,
    )
    assert "no web browser could be opened" in fallback[-1]
    assert capsys.readouterr().out == ""


def test_a_crashing_opener_counts_as_no_browser(nbsession, admin, local_kernel):
    def broken(url):
        raise RuntimeError("no display")

    with pytest.raises(MethodUnavailable) as caught:
        nbsession.login("browser", open_browser=broken, fallback=False)
    assert "no web browser" in caught.value.reason


def test_unknown_and_bad_options_are_named_not_echoed(nbsession, local_kernel):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login("browser", password="hunter2-Secret")
    assert "password" in str(caught.value) and "hunter2" not in str(caught.value)
    with pytest.raises(ConfigurationError):
        nbsession.login("browser", open_browser="firefox")


@pytest.mark.parametrize("alias", ["interactive_browser", "Interactive-Browser"])
def test_aliases(nbsession, admin, local_kernel, alias):
    assert nbsession.login(alias, open_browser=FakeBrowser(ALICE)).account.method == "browser"


def test_default_opener_is_webbrowser_honouring_BROWSER(emulator, admin, tmp_path):
    """nbauth.login('browser') in a fresh kernel-like process whose $BROWSER is a script."""
    script = tmp_path / "fake-browser"
    helpers = os.path.join(os.path.dirname(__file__))
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import sys
            sys.path.insert(0, {helpers!r})
            from _user_method_fixtures import FakeBrowser
            FakeBrowser({ALICE!r})(sys.argv[1])
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    program = textwrap.dedent(
        """\
        import json, nbauth
        from _user_method_fixtures import arm_subscription_ids
        signin = nbauth.login("browser")
        print(json.dumps({"user": signin.account.username, "method": signin.account.method,
                          "subs": arm_subscription_ids(nbauth.credential())}))
        """
    )
    env = subprocess_env(
        {
            "BROWSER": str(script),
            "NBAUTH_KERNEL_LOCATION": "local",
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), helpers]),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["user"] == ALICE and result["method"] == "browser"
    assert "c0a50001-0000-4000-8000-000000000001" in result["subs"]
    assert_no_secret_in([done.stdout, done.stderr], issued_secrets(admin))
