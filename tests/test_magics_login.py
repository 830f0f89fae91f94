"""``%azlogin`` / ``%azlogout`` / ``%azwhoami`` through a real IPython InteractiveShell, against
the emulator, in text mode (a terminal IPython) and widget mode (``LoginMagics.ui``).

``%azlogin`` runs the ``auto`` chain by default: every test here runs in ``service_env`` (no
service principal, no developer tool on PATH, the instance metadata address a closed loopback
port), so the chain ends at the device code, and nothing leaves loopback. Other methods:
tests/test_magics_methods.py."""

from __future__ import annotations

import _thread
import json
import threading
import time

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    poller_threads,
    token_requests,
)
from _service_fixtures import service_env_fixture  # noqa: F401 - registers `service_env`
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nbauth._errors import AuthenticationRequired, SignInCancelled, SignInDeclined
from nbauth._magics import LoginMagics

CAROL = "carol@fabrikam.example"


@pytest.fixture(autouse=True)
def _only_the_device_code_is_set_up(service_env):
    """The ``auto`` chain finds no service identity or developer tool here (see the docstring)."""


class Person(threading.Thread):
    """Plays the person at the sign-in page: acts on the next pending code via the admin API."""

    def __init__(self, admin, action: str = "approve", username: str = ALICE) -> None:
        super().__init__(daemon=True, name="test-person")
        self.admin, self.action, self.username = admin, action, username
        self.codes: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = self.admin.pending()
            if pending:
                code = pending[-1]["user_code"]
                if self.action == "approve":
                    self.admin.approve(self.username, code)
                else:
                    getattr(self.admin, self.action)(code)
                self.codes.append(code)
                return
            time.sleep(0.05)


def signed_in(shell, admin, line: str = "", username: str = ALICE) -> str:
    """Run a blocking %azlogin that `username` approves; returns the captured stdout."""
    person = Person(admin, username=username)
    person.start()
    with capture_output() as captured:
        result = shell.run_line_magic("azlogin", line)
    person.join(5)
    assert result is None
    assert person.codes, "the sign-in never asked for a code"
    return captured.stdout


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def model_widget(output):
    """The live widget behind a captured widget output, resolved the way ipywidgets resolves
    references from the front end; None once that widget is closed."""
    import ipywidgets

    model_id = output.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    widget = ipywidgets.widget_serialization["from_json"](f"IPY_MODEL_{model_id}", None)
    return None if isinstance(widget, str) else widget


# -- signing in -----------------------------------------------------------------------------


def test_blocking_azlogin_approved_while_the_cell_waits(shell, magics, admin, nbsession):
    out = signed_in(shell, admin)
    lines = out.splitlines()
    assert lines[0].startswith("To sign in, open http://127.0.0.1:")
    assert "To cancel, press Ctrl-C." in out
    badge = next(i for i, line in enumerate(lines) if line.startswith("Signed in as"))
    assert lines[badge].startswith(f"Signed in as {ALICE} · tenant ")
    # Under the badge, what `auto` tried: one line per step, the device code last.
    assert lines[badge + 1] == f"auto sign-in: signed in as {ALICE} (device code sign-in)."
    assert len(lines) == badge + 2 + 8 and lines[-1].split()[:2] == ["device_code", "succeeded"]
    assert shell.user_ns["credential"] is nbsession.credential()
    assert shell.user_ns["credential"].get_token(ARM_SCOPE).token
    assert poller_threads() == []
    assert_no_secret_in([out], issued_secrets(admin))


def test_second_azlogin_is_silent_and_shows_the_badge(shell, magics, admin, nbsession):
    signed_in(shell, admin)
    admin.clear_requests()
    with capture_output() as captured:
        shell.run_line_magic("azlogin", "--var cred")
    assert devicecode_requests(admin) == []
    assert token_requests(admin) == []  # msal's cache: not even a refresh
    lines = captured.stdout.strip().splitlines()
    assert lines[0].startswith(f"Signed in as {ALICE}")
    # The auto chain's report follows, one line per step: this kernel's account was reused.
    assert lines[1] == f"auto sign-in: signed in as {ALICE} (this kernel's account)."
    assert [line.split()[:2] for line in lines[-2:]] == [
        ["cached", "succeeded"],
        ["device_code", "not"],
    ]
    assert shell.user_ns["cred"] is nbsession.credential()
    shell.user_ns.pop("cred")


def test_cell_has_no_out_value(shell, magics, admin):
    signed_in(shell, admin)
    with capture_output():
        result = shell.run_cell("%azlogin")
    assert result.success and result.result is None


def test_account_option_switches_back_silently(shell, magics, admin, nbsession):
    signed_in(shell, admin, username=ALICE)
    signed_in(shell, admin, "--method device_code", username=BOB)
    assert nbsession.account.username == BOB
    admin.clear_requests()
    with capture_output() as captured:
        shell.run_line_magic("azlogin", f"--account {ALICE}")
    assert devicecode_requests(admin) == []
    assert nbsession.account.username == ALICE
    assert captured.stdout.startswith(f"Signed in as {ALICE}")


def test_account_option_for_an_unknown_account_prompts_with_a_hint(shell, magics, admin):
    out = signed_in(shell, admin, f"--account {CAROL}", username=CAROL)
    assert f"Sign in as {CAROL}." in out


def test_scope_and_tenant_options_reach_entra(shell, magics, admin, nbsession):
    signed_in(shell, admin, f"--tenant fabrikam.example --scope {STORAGE_SCOPE}", username=CAROL)
    account = nbsession.account
    assert account.username == CAROL and account.tenant_id == FABRIKAM
    assert account.authority.endswith("/fabrikam.example")
    # the badge asked for the sign-in's own scope: its token is already in the store
    assert nbsession.peek_token((STORAGE_SCOPE,)) is not None


def test_method_device_code_always_prompts(shell, magics, admin):
    signed_in(shell, admin)
    before = len(devicecode_requests(admin))
    signed_in(shell, admin, "-m device-code")
    assert len(devicecode_requests(admin)) == before + 1


def test_declined_sign_in_ends_the_cell_with_one_line(shell, magics, admin):
    person = Person(admin, action="decline")
    person.start()
    with capture_output() as captured:
        result = shell.run_cell("%azlogin")
    person.join(5)
    assert isinstance(result.error_in_exec, SignInDeclined)
    assert "Traceback" not in captured.stdout + captured.stderr
    message = str(result.error_in_exec)
    assert captured.stdout.rstrip().endswith(message)
    assert "%azlogin" in message


# -- widgets ----------------------------------------------------------------------------------


def test_widget_mode_blocking_sign_in_collapses_to_badge(shell, magics, admin, nbsession):
    import ipywidgets

    magics.ui = "widgets"
    with capture_output() as captured:
        person = Person(admin)
        person.start()
        shell.run_line_magic("azlogin", "")
        person.join(5)
    first, *rest = captured.outputs
    card = model_widget(first)
    assert card.view.state == "succeeded" and card.view.user_code == ""
    assert card.children == (card.badge,)
    final = [o for o in rest if o.update][-1]
    assert final.transient["display_id"] == first.transient["display_id"]
    assert final.data["text/plain"].startswith(f"Signed in as {ALICE}")
    assert person.codes[0] in first.data["text/plain"]
    assert person.codes[0] not in final.data["text/plain"]
    state = json.dumps(ipywidgets.Widget.get_manager_state(), default=str)
    assert person.codes[0] not in state
    assert_no_secret_in(
        [state, captured.stdout, *(json.dumps(o.data) for o in captured.outputs)],
        issued_secrets(admin),
    )


def test_no_wait_returns_at_once_and_cancel_click_stops_polling(shell, magics, admin, nbsession):
    magics.ui = "widgets"
    before = len(threading.enumerate())
    with capture_output() as captured:
        shell.run_line_magic("azlogin", "--no-wait")
    assert nbsession.pending is not None and nbsession.pending.status == "pending"
    card = model_widget(captured.outputs[0])
    assert card.cancel_button is not None
    poller = poller_threads()[0]
    card.cancel_button.click()
    poller.join(timeout=1.0)
    assert not poller.is_alive()
    assert card.view.state == "cancelled" and card.view.user_code == ""
    assert nbsession.pending is None
    assert len(threading.enumerate()) == before


def test_no_wait_then_a_later_cell_uses_the_credential(shell, magics, admin, nbsession):
    with capture_output() as captured:
        shell.run_line_magic("azlogin", "--no-wait")
    assert "continues in the background" in captured.stdout
    person = Person(admin)
    person.start()
    # the credential waits for the pending sign-in, then gets a token
    assert shell.user_ns["credential"].get_token(ARM_SCOPE).token
    person.join(5)
    assert nbsession.account.username == ALICE


def test_new_azlogin_cancels_a_pending_no_wait_sign_in(shell, magics, admin, nbsession):
    signed_in(shell, admin)
    with capture_output():
        shell.run_line_magic("azlogin", "--no-wait --method device_code")
    background = nbsession.pending
    assert background is not None
    with capture_output() as captured:
        shell.run_line_magic("azlogin", "")  # silent: alice is still usable
    assert background.status == "cancelled"
    assert poller_threads() == []
    lines = captured.stdout.strip().splitlines()
    # The background sign-in says it ended, then the badge (and the report) of this one.
    assert lines[0] == f"Sign-in cancelled. {ALICE} is still signed in."
    assert lines[1].startswith(f"Signed in as {ALICE}")
    assert shell.user_ns["credential"].get_token(ARM_SCOPE).token  # does not wait


# -- the stop button ----------------------------------------------------------------------------


class Interrupter(threading.Thread):
    """Presses the stop button once the sign-in is polling (what a kernel interrupt does)."""

    def __init__(self, admin) -> None:
        super().__init__(daemon=True, name="test-interrupter")
        self.admin = admin
        self.fired = False

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            polls = token_requests(self.admin, "urn:ietf:params:oauth:grant-type:device_code")
            if polls and poller_threads():
                self.fired = True
                _thread.interrupt_main()
                return
            time.sleep(0.05)


@pytest.mark.parametrize("ui", ["text", "widgets"])
def test_interrupt_cancels_with_one_line_and_keeps_the_previous_account(
    shell, magics, admin, nbsession, ui
):
    signed_in(shell, admin)
    magics.ui = ui
    admin.clear_requests()
    interrupter = Interrupter(admin)
    interrupter.start()
    with capture_output() as captured:
        result = shell.run_cell("%azlogin --method device_code")
    interrupter.join(5)
    assert interrupter.fired
    assert isinstance(result.error_in_exec, SignInCancelled)
    printed = captured.stdout + captured.stderr
    assert "Traceback" not in printed and "KeyboardInterrupt" not in printed
    expected = f"Sign-in cancelled. {ALICE} is still signed in."
    assert str(result.error_in_exec) == expected
    assert printed.rstrip().endswith(expected)
    assert printed.count("Sign-in cancelled.") == 1
    assert poller_threads() == []
    assert nbsession.pending is None
    assert nbsession.account.username == ALICE
    assert shell.user_ns["credential"].get_token(STORAGE_SCOPE).token  # still works
    if ui == "widgets":
        assert model_widget(captured.outputs[0]) is None  # the card is closed, not just hidden
        assert captured.outputs[-1].update and captured.outputs[-1].data == {"text/plain": ""}


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--method carrier-pigeon", "accepts --method device_code, browser, broker, vscode"),
        ("--cloud Mars", "accepts --cloud public, china, usgov"),
        ("--var 1cred", "--var needs a Python variable name"),
        ("--var class", "--var needs a Python variable name"),
        ("--tenant 'bad tenant!'", "tenant must be a tenant ID"),
        ("--scope openid", "Do not ask for openid"),
        ("--account alice", "--account needs a username"),
        ("--bogus", "unrecognized arguments"),
        ("--scope", "expected at least one argument"),
    ],
)
def test_bad_arguments_raise_usage_error_saying_what_is_accepted(shell, magics, admin, line, says):
    with pytest.raises(UsageError, match=None) as info:
        shell.run_line_magic("azlogin", line)
    assert says in str(info.value)
    assert devicecode_requests(admin) == []


def test_help_has_examples(shell, magics):
    doc = shell.find_line_magic("azlogin").__doc__
    assert "In [2]: %azlogin" in doc and "--no-wait" in doc and "--var NAME" in doc
    with capture_output() as captured:
        shell.run_cell("%azlogin?")
    assert "In [4]: %azlogin --no-wait" in captured.stdout
    for name in ("azlogout", "azwhoami"):
        assert "In [1]: %" + name in shell.find_line_magic(name).__doc__


def test_load_ext_registers_the_magics(shell):
    import nbauth

    nbauth.load_ipython_extension(shell)
    try:
        for name in ("azlogin", "azlogout", "azwhoami"):
            assert shell.find_line_magic(name) is not None
    finally:
        nbauth.unload_ipython_extension(shell)


def test_load_ext_pays_for_no_sign_in_library(tmp_path):
    """``%load_ext nbauth`` in a fresh interpreter imports none of msal, azure-identity,
    ipywidgets or anywidget: they come with the first sign-in."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'nbauth')\n"
        "assert shell.find_line_magic('azlogin') is not None\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    import os
    from pathlib import Path

    repo = str(Path(__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    heavy = ["msal", "azure.identity", "ipywidgets", "anywidget"]
    assert [m for m in heavy if m in loaded] == []


# -- %azlogout / %azwhoami ---------------------------------------------------------------------


def test_azlogout(shell, magics, admin, nbsession):
    signed_in(shell, admin)
    with capture_output() as captured:
        shell.run_line_magic("azlogout", "")
    assert captured.stdout.strip() == f"Signed out {ALICE}."
    with pytest.raises(AuthenticationRequired, match="%azlogin"):
        shell.user_ns["credential"].get_token(ARM_SCOPE)
    with capture_output() as captured:
        shell.run_line_magic("azlogout", "")
    assert captured.stdout.strip() == "Nobody was signed in."


def test_azlogout_all(shell, magics, admin, nbsession):
    signed_in(shell, admin, username=ALICE)
    signed_in(shell, admin, "--method device_code", username=BOB)
    with capture_output() as captured:
        shell.run_line_magic("azlogout", "--all")
    assert captured.stdout.strip() == "Signed out of every account in this kernel."
    assert nbsession.account is None
    with capture_output():
        person = Person(admin, username=ALICE)
        person.start()
        shell.run_line_magic("azlogin", f"--account {ALICE}")  # forgotten: prompts again
        person.join(5)
    assert person.codes


def test_azwhoami(shell, magics, admin, nbsession):
    with capture_output() as captured:
        shell.run_line_magic("azwhoami", "")
    text = captured.outputs[0].data["text/plain"]
    assert "Nobody is signed in" in text and "%azlogin" in text
    signed_in(shell, admin)
    shell.user_ns["credential"].get_token(STORAGE_SCOPE)
    with capture_output() as captured:
        shell.run_line_magic("azwhoami", "")
    (shown,) = captured.outputs
    assert f"<p>Signed in as {ALICE}.</p>" in shown.data["text/html"]
    out = shown.data["text/plain"]
    assert f"Signed in as {ALICE}." in out
    assert "Method:" in out and "device code" in out
    assert "https://storage.azure.com" in out and "valid until" in out
    assert_no_secret_in([out], issued_secrets(admin))
    with pytest.raises(UsageError):
        shell.run_line_magic("azwhoami", "--verbose")


def test_magics_install_the_inline_reprompt_with_their_ui(shell, nbsession):
    from nbauth._ui.reprompt import InlineReprompt

    magics = LoginMagics(shell=shell, session=nbsession)
    handler = nbsession.tokens.interaction_handler
    assert isinstance(handler, InlineReprompt) and handler.ui == "auto"
    magics.ui = "text"
    assert handler.ui == "text"
