"""``%azaccount`` / ``%azsubscription`` through a real IPython InteractiveShell, against the
emulator: text mode (a terminal IPython) and widget mode (``AccountMagics.ui``)."""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from _accounts_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    CAROL,
    CONTOSO,
    FABRIKAM,
    admin_fixture,
    alice_and_carol_fixture,
    alice_fixture,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    requests_of,
    seeded_subscriptions,
    widget_states,
)
from _core_fixtures import poller_threads
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nbauth._errors import AuthenticationRequired
from nbauth._magics import AccountMagics
from nbauth._subscriptions import subscription_id, tenants

DATA_SCIENCE = "c0a50002-0000-4000-8000-000000000002"
ANALYTICS = "fab00004-0000-4000-8000-000000000004"
RESEARCH = "fab00005-0000-4000-8000-000000000005"


@pytest.fixture
def magics(shell, nbsession):
    """AccountMagics over this test's fresh Session, registered in the shell (text mode)."""
    instance = AccountMagics(shell=shell, session=nbsession)
    shell.register_magics(instance)
    yield instance
    shell.user_ns.pop("subscription_id", None)


def run(shell, name: str, line: str = "") -> str:
    with capture_output() as captured:
        assert shell.run_line_magic(name, line) is None  # no Out[] echo
    return captured.stdout


def approve_next_code(admin, username: str) -> threading.Thread:
    """A person approving the next device code that appears (from another thread)."""

    def act() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = admin.pending()
            if pending:
                admin.approve(username, pending[-1]["user_code"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=act, daemon=True, name="test-person")
    thread.start()
    return thread


# -- %azaccount -------------------------------------------------------------------------------


def test_azaccount_lists_accounts_as_text(magics, shell, alice_and_carol):
    for line in ("", "--list"):  # no widgets in a terminal shell: the same text
        out = run(shell, "azaccount", line)
        assert f"{CAROL} (current)" in out
        assert ALICE in out and f"{ALICE} (current)" not in out


def test_azaccount_use_and_logout(magics, shell, alice_and_carol, admin):
    assert run(shell, "azaccount", f"--use {ALICE}").strip() == f"Now using {ALICE}."
    assert alice_and_carol.account.username == ALICE
    assert requests_of(admin, "devicecode") and len(requests_of(admin, "devicecode")) == 2
    assert run(shell, "azaccount", f"--logout {CAROL}").strip() == f"Signed out {CAROL}."
    out = run(shell, "azaccount", f"--logout {ALICE}")
    assert out.startswith(f"Signed out {ALICE}. No account is current")
    assert "No accounts are signed in" in run(shell, "azaccount", "--list")


def test_azaccount_bad_input_is_a_usage_error(magics, shell, alice_and_carol):
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("azaccount", "--use mallory@contoso.example")
    assert ALICE in str(info.value) and CAROL in str(info.value)
    with pytest.raises(UsageError, match="only one of"):
        shell.run_line_magic("azaccount", f"--use {ALICE} --list")
    with pytest.raises(UsageError):
        shell.run_line_magic("azaccount", "--frobnicate")


def test_azaccount_picker_in_widget_mode(magics, shell, alice_and_carol, admin):
    magics.ui = "widgets"
    with capture_output() as captured:
        shell.run_line_magic("azaccount", "")
    [output] = captured.outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    assert f"{CAROL} (current)" in output.data["text/plain"]
    picker = magics.picker
    picker.rows[ALICE].use_button.click()
    assert alice_and_carol.account.username == ALICE
    assert_no_secret_in(widget_states() + [str(output.data)], issued_secrets(admin))


def test_subscription_variable_follows_account_switches(magics, shell, alice_and_carol):
    run(shell, "azsubscription", '--set "Fabrikam Research"')  # carol's
    assert shell.user_ns["subscription_id"] == RESEARCH
    run(shell, "azaccount", f"--use {ALICE}")
    assert shell.user_ns["subscription_id"] is None  # alice chose none yet
    run(shell, "azsubscription", f"--set {DATA_SCIENCE}")
    run(shell, "azaccount", f"--use {CAROL}")
    assert shell.user_ns["subscription_id"] == RESEARCH
    shell.user_ns["subscription_id"] = "my own value"  # the user's own variable is left alone
    run(shell, "azaccount", f"--use {ALICE}")
    assert shell.user_ns["subscription_id"] == "my own value"


# -- %azsubscription --------------------------------------------------------------------------


def test_azsubscription_list_and_filter(magics, shell, alice):
    out = run(shell, "azsubscription", "--list")
    for tenant_subs in seeded_subscriptions(ALICE).values():
        for name in tenant_subs.values():
            assert name in out
    filtered = run(shell, "azsubscription", "--list --filter data")
    assert "Contoso Data Science" in filtered and "Contoso Production" not in filtered
    only_fabrikam = run(shell, "azsubscription", "--list --tenant fabrikam.example")
    assert "Fabrikam Analytics" in only_fabrikam and "Contoso" not in only_fabrikam
    hint = run(shell, "azsubscription", "")  # terminal: the list plus how to choose
    assert "Choose one with `%azsubscription --set ID_OR_NAME`" in hint


def test_azsubscription_set_by_name_binds_the_variable(magics, shell, alice):
    out = run(shell, "azsubscription", '--set "Contoso Data Science"')
    assert out.strip() == (
        f"Using subscription Contoso Data Science ({DATA_SCIENCE}) in tenant Contoso; "
        "`subscription_id` is set."
    )
    assert shell.user_ns["subscription_id"] == DATA_SCIENCE == subscription_id(alice)
    assert "\u2713 Contoso Data Science" in run(shell, "azsubscription", "--list")


def test_azsubscription_guest_tenant_silently(magics, shell, alice, admin):
    admin.clear_requests()
    run(shell, "azsubscription", f"--tenant Fabrikam --set {ANALYTICS}")
    assert shell.user_ns["subscription_id"] == ANALYTICS
    assert requests_of(admin, "devicecode") == []
    assert [r["grant_type"] for r in requests_of(admin, "token")] == ["refresh_token"]


def test_azsubscription_ambiguous_and_unknown_names(magics, shell, alice):
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("azsubscription", "--set contoso")
    assert "Contoso Production" in str(info.value) and "Contoso Data Science" in str(info.value)
    with pytest.raises(UsageError, match="No subscription 'Northwind'"):
        shell.run_line_magic("azsubscription", "--set Northwind")
    with pytest.raises(UsageError, match="has no tenant"):
        shell.run_line_magic("azsubscription", "--tenant northwind.example --list")
    with pytest.raises(UsageError, match="either --set or --list"):
        shell.run_line_magic("azsubscription", "--set x --list")
    assert "subscription_id" not in shell.user_ns


def test_azsubscription_signs_in_to_a_tenant_that_needs_it(magics, shell, alice, admin):
    tenants(session=alice)
    admin.revoke(ALICE)
    admin.clear_requests()
    person = approve_next_code(admin, ALICE)
    out = run(shell, "azsubscription", '--tenant fabrikam.example --set "Fabrikam Analytics"')
    person.join(5)
    assert "needs alice@contoso.example to sign in again" in out
    assert "enter the code" in out  # the device-code prompt, shown as text here
    assert shell.user_ns["subscription_id"] == ANALYTICS
    [devicecode] = requests_of(admin, "devicecode")
    assert FABRIKAM in devicecode["path"]
    assert_no_secret_in([out], issued_secrets(admin))


def test_interrupt_while_signing_in_to_a_tenant(magics, shell, alice, admin):
    tenants(session=alice)
    admin.revoke(ALICE)
    before = set(poller_threads())

    def interrupt_when_prompted() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not admin.pending():
            time.sleep(0.05)
        _thread.interrupt_main()  # the stop button

    threading.Thread(target=interrupt_when_prompted, daemon=True).start()
    with capture_output() as captured:
        result = shell.run_cell("%azsubscription --tenant Fabrikam --list")
    assert result.error_in_exec is not None
    assert "Sign-in cancelled" in captured.stdout and ALICE in captured.stdout
    assert "Traceback" not in captured.stdout and "KeyboardInterrupt" not in captured.stdout
    for thread in set(poller_threads()) - before:
        thread.join(1.0)
        assert not thread.is_alive()
    assert alice.account.username == ALICE  # still signed in, Contoso still works
    assert "Contoso Data Science" in run(shell, "azsubscription", "--list --tenant Contoso")


def test_azsubscription_picker_in_widget_mode(magics, shell, alice, admin):
    magics.ui = "widgets"
    with capture_output() as captured:
        shell.run_line_magic("azsubscription", "--filter analytics")
    [output] = captured.outputs
    assert "application/vnd.jupyter.widget-view+json" in output.data
    assert "Fabrikam Analytics" in output.data["text/plain"]
    picker = magics.picker
    assert [v for _l, v in picker.select.options] == [ANALYTICS]
    picker.use_button.click()
    assert shell.user_ns["subscription_id"] == ANALYTICS == subscription_id(alice)
    assert_no_secret_in(widget_states() + [str(output.data)], issued_secrets(admin))


def test_nobody_signed_in_is_one_line(magics, shell, nbsession):
    with capture_output() as captured:
        result = shell.run_cell("%azsubscription --list")
    assert isinstance(result.error_in_exec, AuthenticationRequired)
    assert "%azlogin" in captured.stdout and "Traceback" not in captured.stdout
    assert "No accounts are signed in" in run(shell, "azaccount", "--list")


def test_help_has_examples(magics):
    assert "In [3]: %azsubscription --set" in AccountMagics.azsubscription.__doc__
    assert "In [3]: %azaccount --use" in AccountMagics.azaccount.__doc__
    assert "--filter TEXT" in AccountMagics.azsubscription.__doc__  # magic_arguments' usage


def test_load_ext_registers_the_magics(shell, emulator):
    from nbauth._kernel import reset_session

    try:
        shell.run_line_magic("load_ext", "nbauth")
        assert shell.find_line_magic("azaccount") is not None
        assert shell.find_line_magic("azsubscription") is not None
        shell.run_line_magic("unload_ext", "nbauth")
        assert shell.find_line_magic("azsubscription") is None
    finally:
        reset_session()
