"""The broker (WAM) method: when it can work, what it says when it cannot, and the fallback
the Azure docs describe (interactive browser, itself falling back to device code)."""

from __future__ import annotations

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    BOB,
    admin_fixture,
    approving_prompt,
    clock_fixture,
    nbsession_fixture,
)

from nbauth._errors import ConfigurationError
from nbauth._methods import broker
from nbauth._methods._unavailable import MethodUnavailable

DESKTOP = {"DISPLAY": ":0"}
NATIVE = "Linux version 6.8.0-45-generic (gcc 13.2.0)"
WSL2 = "Linux version 5.15.153.1-microsoft-standard-WSL2"


@pytest.mark.parametrize(
    ("platform", "version", "proc_version", "linux_broker"),
    [
        ("win32", "1.0.0", "", None),
        ("win32", "1.2.0", "", None),
        ("darwin", "1.3.0b1", "", None),
        ("darwin", "1.3.0", "", None),
        ("linux", "1.3.0b2", WSL2, None),
        ("linux", "1.3.0", NATIVE, True),
    ],
)
def test_supported_platforms_with_a_recent_enough_package(
    platform, version, proc_version, linux_broker
):
    assert (
        broker.unavailable_on(
            platform=platform,
            version=version,
            environ=DESKTOP,
            proc_version=proc_version,
            linux_broker_installed=linux_broker,
        )
        is None
    )


@pytest.mark.parametrize(
    ("platform", "version", "proc_version", "words"),
    [
        ("win32", None, "", "azure-identity-broker package is not installed"),
        ("darwin", "1.2.0", "", "does not support the broker on macOS (with Company Portal)"),
        ("darwin", "1.3.0a1", "", "needs 1.3.0b1 or later"),
        ("linux", "1.3.0b1", WSL2, "does not support the broker on WSL"),
        ("linux", "1.2.0", NATIVE, "does not support the broker on Linux"),
        ("freebsd14", "1.3.0", "", "no authentication broker for freebsd14"),
    ],
)
def test_unsupported_combinations_say_why(platform, version, proc_version, words):
    missing = broker.unavailable_on(
        platform=platform, version=version, environ=DESKTOP, proc_version=proc_version
    )
    assert missing is not None and words in missing.reason


def test_missing_package_says_what_to_install():
    missing = broker.unavailable_on(platform="win32", version=None, environ={})
    assert "pip install azure-identity-broker" in missing.fix


def test_linux_needs_microsoft_identity_broker_installed():
    missing = broker.unavailable_on(
        platform="linux",
        version="1.3.0",
        environ=DESKTOP,
        proc_version=NATIVE,
        linux_broker_installed=False,
    )
    assert "Microsoft Identity Broker is not installed" in missing.reason


@pytest.mark.parametrize(
    "environ",
    [{"JUPYTERHUB_USER": "me"}, {"SSH_CONNECTION": "1 2 3 4"}, {"AZUREML_RUN_ID": "r"}],
)
def test_remote_kernels_cannot_show_the_broker_window(environ):
    missing = broker.unavailable_on(platform="win32", version="1.2.0", environ=environ)
    assert "the broker's window would open there" in missing.reason


def test_wsl_counts_as_local_for_the_broker():
    # The Windows broker serves WSL, although a browser on WSL cannot reach the kernel.
    assert (
        broker.unavailable_on(platform="linux", version="1.3.0b2", environ={}, proc_version=WSL2)
        is None
    )


def test_this_machine_has_no_usable_broker_and_says_why():
    # The test machines are Linux without azure-identity-broker.
    assert broker.installed_version() is None
    reason = broker.unavailable(None).reason
    assert isinstance(reason, str) and reason


def test_without_fallback_it_fails_fast_with_the_fix(nbsession, admin):
    with pytest.raises(MethodUnavailable) as caught:
        nbsession.login("broker", fallback=False)
    assert caught.value.method == "broker" and caught.value.reason
    assert "Sign-in method 'broker' is not available here" in str(caught.value)
    assert admin.requests() == []


def _pasted_back(signin, username: str) -> str:
    """The person opens the page the browser sign-in shows and pastes back where it ended."""
    from _user_method_fixtures import FakeBrowser

    person = FakeBrowser(username, follow=False)
    person(signin.prompt.verification_uri)
    return person.ended_on


def test_falls_back_to_the_browser_with_one_line(nbsession, admin, monkeypatch, capsys):
    # A remote kernel: broker -> the browser sign-in finished by pasting back its address.
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")
    signin = nbsession.login("wam", login_hint=BOB, wait=False)
    assert "login_hint=bob%40contoso.example" in signin.prompt.verification_uri
    signin.complete(_pasted_back(signin, BOB))

    assert signin.account.username == BOB and signin.account.method == "browser"
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("The broker (WAM) cannot be used:")]
    assert not [line for line in out if "device code" in line]


def test_falls_back_to_the_browser_on_a_local_kernel(nbsession, admin, monkeypatch, capsys):
    from _user_method_fixtures import FakeBrowser

    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "local")
    browser = FakeBrowser(username=None)
    signin = nbsession.login("broker", open_browser=browser, login_hint=ALICE)

    assert signin.account.username == ALICE and signin.account.method == "browser"
    assert "login_hint=alice%40contoso.example" in browser.urls[0]
    assert "azure-identity-broker package is not installed" in capsys.readouterr().out


def test_each_fallback_is_said_through_the_notice_callback(nbsession, admin, monkeypatch, capsys):
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")
    notices: list[str] = []
    prompts: list[object] = []
    signin = nbsession.login(
        "wam", login_hint=BOB, notice=notices.append, prompt=prompts.append, wait=False
    )
    signin.complete(_pasted_back(signin, BOB))
    assert signin.account.username == BOB
    assert [n.split(":")[0] for n in notices] == ["The broker (WAM) cannot be used"]
    assert [type(p).__name__ for p in prompts] == ["BrowserPrompt"]
    assert capsys.readouterr().out == ""


def test_bad_login_hint(nbsession):
    with pytest.raises(ConfigurationError):
        nbsession.login("broker", login_hint=42)
