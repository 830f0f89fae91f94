"""Inline re-prompt: a get_token that needs a new sign-in shows the card in the running cell
(main thread of an IPython shell) and waits; elsewhere it raises. Real emulator: the refresh
token is revoked through the admin API, so Entra (emulated) answers AADSTS50173."""

from __future__ import annotations

import _thread
import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    STORAGE_SCOPE,
    admin_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    poller_threads,
    sign_in,
    token_requests,
)
from IPython.utils.capture import capture_output

from nbauth._errors import AuthenticationRequired, SignInCancelled, SignInDeclined
from nbauth._ui.reprompt import InlineReprompt, can_prompt, install


@pytest.fixture
def revoked(shell, admin, nbsession):
    """Alice signed in, then her refresh token revoked: the next new scope needs a sign-in."""
    sign_in(nbsession, admin, ALICE)
    admin.revoke(ALICE)
    admin.clear_requests()
    return nbsession


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def act_on_next_code(admin, action: str = "approve") -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = admin.pending()
            if pending:
                code = pending[-1]["user_code"]
                if action == "approve":
                    admin.approve(ALICE, code)
                else:
                    getattr(admin, action)(code)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True, name="test-person")
    thread.start()
    return thread


def test_can_prompt_only_on_the_main_thread_of_a_shell(shell):
    assert can_prompt() is True
    seen = []
    worker = threading.Thread(target=lambda: seen.append(can_prompt()))
    worker.start()
    worker.join()
    assert seen == [False]


def test_install_sets_the_handler_once_and_respects_a_custom_one(nbsession):
    handler = install(nbsession)
    assert isinstance(handler, InlineReprompt)
    assert nbsession.tokens.interaction_handler is handler
    assert install(nbsession) is handler

    def custom(error, **kwargs):
        return False

    nbsession.tokens.interaction_handler = custom
    assert install(nbsession) is None
    assert nbsession.tokens.interaction_handler is custom


def _run_fresh(program: str) -> dict:
    """`program`'s last line of output, as JSON, from a fresh interpreter: the kernel's session
    and what %load_ext asked for are process-wide."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_load_ext_installs_the_reprompt_on_each_kernel_session_it_makes():
    """Explicit, and paid for only when a session is made: %load_ext does not make the session
    (that would load azure-core), and reset_session()'s next session gets it too."""
    found = _run_fresh(
        """
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        import nbauth
        InteractiveShell.instance().run_line_magic("load_ext", "nbauth")
        made_at_load = "nbauth._session" in sys.modules
        from nbauth._kernel import reset_session
        first = type(nbauth.session().tokens.interaction_handler).__name__
        reset_session()
        after_reset = type(nbauth.session().tokens.interaction_handler).__name__
        print(json.dumps([made_at_load, first, after_reset]))
        """
    )
    assert found == [False, "InlineReprompt", "InlineReprompt"]


def test_load_ext_after_the_session_exists_installs_it_at_once_and_magics_alone_do_not():
    found = _run_fresh(
        """
        import json
        from IPython.core.interactiveshell import InteractiveShell
        import nbauth, nbauth._magics
        kernel_session = nbauth.session()
        before = kernel_session.tokens.interaction_handler
        InteractiveShell.instance().run_line_magic("load_ext", "nbauth")
        print(json.dumps([before, type(kernel_session.tokens.interaction_handler).__name__]))
        """
    )
    assert found == [None, "InlineReprompt"]


def test_main_thread_get_token_reprompts_inline_and_continues(revoked, admin):
    install(revoked, ui="text")
    person = act_on_next_code(admin)
    with capture_output() as captured:
        token = revoked.credential().get_token(STORAGE_SCOPE)
    person.join(5)
    assert token.token
    out = captured.stdout
    assert out.startswith("Azure needs you to sign in again. Your sign-in is no longer valid")
    assert f"Sign in as {ALICE}." in out
    assert "To sign in, open http://127.0.0.1:" in out
    assert out.rstrip().splitlines()[-1].startswith(f"Signed in as {ALICE}")
    assert len(devicecode_requests(admin)) == 1
    assert revoked.account.username == ALICE
    assert poller_threads() == []
    assert_no_secret_in([out], issued_secrets(admin))


def test_reprompt_card_in_widget_mode(revoked, admin):
    pytest.importorskip("anywidget")
    install(revoked, ui="widgets")
    person = act_on_next_code(admin)
    with capture_output() as captured:
        assert revoked.credential().get_token(STORAGE_SCOPE).token
    person.join(5)
    first = captured.outputs[0]
    assert "application/vnd.jupyter.widget-view+json" in first.data
    final = [o for o in captured.outputs if o.update][-1]
    assert final.data["text/plain"].startswith(f"Signed in as {ALICE}")


def test_other_threads_get_the_error_naming_azlogin(revoked, admin):
    install(revoked, ui="text")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            revoked.credential().get_token(STORAGE_SCOPE)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(15)
    (error,) = errors
    assert isinstance(error, AuthenticationRequired)
    assert "azlogin" in str(error) or "sign in again" in str(error).lower()
    assert getattr(error, "aadsts", None) == 50173
    assert devicecode_requests(admin) == []  # nobody was asked


def test_without_handler_the_error_is_raised(revoked, admin):
    assert revoked.tokens.interaction_handler is None
    with pytest.raises(AuthenticationRequired):
        revoked.credential().get_token(STORAGE_SCOPE)
    assert devicecode_requests(admin) == []


def test_declined_reprompt_raises_the_decline(revoked, admin):
    install(revoked, ui="text")
    person = act_on_next_code(admin, "decline")
    with capture_output(), pytest.raises(SignInDeclined) as info:
        revoked.credential().get_token(STORAGE_SCOPE)
    person.join(5)
    assert info.value._render_traceback_() == str(info.value).splitlines()
    assert poller_threads() == []


def test_interrupt_during_reprompt_cancels_cleanly(revoked, admin):
    install(revoked, ui="text")
    fired = threading.Event()

    def interrupt_once_polling() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            polls = token_requests(admin, "urn:ietf:params:oauth:grant-type:device_code")
            if polls and poller_threads():
                fired.set()
                _thread.interrupt_main()
                return
            time.sleep(0.05)

    threading.Thread(target=interrupt_once_polling, daemon=True).start()
    with capture_output() as captured, pytest.raises(SignInCancelled) as info:
        revoked.credential().get_token(STORAGE_SCOPE)
    assert fired.is_set()
    assert str(info.value) == f"Sign-in cancelled. {ALICE} is still signed in."
    assert info.value._render_traceback_() == [str(info.value)]
    assert "Sign-in cancelled" not in captured.stdout  # said once, by the error
    assert poller_threads() == []
    # the account is still there; its ARM token (from before the revocation) still works
    assert revoked.account.username == ALICE
    assert revoked.credential().get_token(ARM_SCOPE).token
