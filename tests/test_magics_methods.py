"""``%azlogin --method ...`` for every sign-in method, ``auto`` and its report, ``--cloud``, and
``nbauth.login()`` in a real kernel: through a real IPython InteractiveShell (or kernel) against
the emulator, each credential proven with an azure-core pipeline call to the emulator's ARM.

Every test runs in ``service_env``: none of the variables a method reads, PATH holding only the
fake ``az`` / ``azd`` / ``pwsh`` a test installs, and the instance metadata address a closed
loopback port. Nothing leaves loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    BOB,
    admin_fixture,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    token_requests,
)
from _emulator_process import REPO_ROOT, subprocess_env
from _service_fixtures import (
    ALICE_PASSWORD,
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    assert_no_secret_in,
    install_tool,
    known_secrets,
    service_env_fixture,  # noqa: F401 - registers `service_env`
    user_login,
)
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output
from traitlets import TraitError
from traitlets.config import Config

import nbauth
from nbauth._magics import LoginMagics
from nbauth._methods import available

TESTS = Path(__file__).resolve().parent
CONTOSO_DATA_SCIENCE = "c0a50002-0000-4000-8000-000000000002"


@pytest.fixture(autouse=True)
def _isolated(service_env):
    """service_env (see the module docstring); conftest's clean_clouds isolates clouds."""


class Person(threading.Thread):
    """Approves the next device code that shows up, as `username`, through the admin API."""

    def __init__(self, admin, username: str = ALICE) -> None:
        super().__init__(daemon=True, name="test-person")
        self.admin, self.username = admin, username
        self.codes: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = self.admin.pending()
            if pending:
                code = pending[-1]["user_code"]
                self.admin.approve(self.username, code)
                self.codes.append(code)
                return
            time.sleep(0.05)


def azlogin(shell, line: str, person: Person | None = None):
    """Run ``%azlogin <line>`` as a cell; returns (the cell's result, captured output)."""
    if person is not None:
        person.start()
    with capture_output() as captured:
        result = shell.run_cell(f"%azlogin {line}")
    if person is not None:
        person.join(20)
        assert person.codes, "the sign-in never showed a code"
    return result, captured


def assert_signed_in(result, captured, shell, session, username: str, method: str) -> None:
    """The cell succeeded, showed the badge, and bound the working kernel credential."""
    assert result.success, captured.stdout + captured.stderr
    badge = next(line for line in captured.stdout.splitlines() if line.startswith("Signed in"))
    assert badge.startswith(f"Signed in as {username} · ")
    assert method.replace("_", " ") in badge
    assert session.account.username == username and session.account.method == method
    credential = shell.user_ns["credential"]
    assert credential is session.credential()
    assert PRODUCTION_SUBSCRIPTION in arm_subscriptions(credential, ARM_SCOPE)


def assert_one_line_error(result, captured, error_type) -> str:
    """The cell ended in `error_type`, shown as its message only (no traceback wall)."""
    assert isinstance(result.error_in_exec, error_type), result.error_in_exec
    printed = captured.stdout + captured.stderr
    assert "Traceback" not in printed
    message = str(result.error_in_exec)
    assert printed.rstrip().endswith(message.rstrip())
    return message


def sdk_auth(emulator) -> dict:
    sp = emulator["service_principal"]
    return {
        "clientId": sp["client_id"],
        "clientSecret": sp["client_secret"],
        "subscriptionId": PRODUCTION_SUBSCRIPTION,
        "tenantId": sp["tenant_id"],
        "activeDirectoryEndpointUrl": emulator["authority_host"],
        "resourceManagerEndpointUrl": emulator["arm_endpoint"],
        "managementEndpointUrl": "https://management.core.windows.net/",
    }


# -- methods that need nobody: they finish at once and show the badge -----------------------------


def test_environment(emulator, emu_admin, service_env, shell, magics, nbsession):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    result, captured = azlogin(shell, "--method environment")
    who = f"service principal {sp['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "environment")
    assert "To sign in" not in captured.stdout  # nobody was asked anything
    assert_no_secret_in([captured.stdout, captured.stderr], known_secrets(emu_admin, emulator))


def test_workload_identity(emulator, emu_admin, service_env, shell, magics, nbsession):
    workload = emulator["workload_identity"]
    service_env.set(**workload["env"])
    result, captured = azlogin(shell, "--method workload")
    who = f"service principal {workload['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "workload_identity")


def test_managed_identity_system_and_user_assigned(
    emulator, emu_admin, service_env, shell, magics, nbsession
):
    mi = emulator["managed_identity"]
    service_env.set(**mi["env"])
    result, captured = azlogin(shell, "--method msi")
    assert_signed_in(
        result, captured, shell, nbsession, "managed identity (system)", "managed_identity"
    )
    user = mi["user_assigned"][0]
    result, captured = azlogin(shell, f"--method managed-identity --client-id {user['client_id']}")
    who = f"managed identity (user-assigned {user['client_id'][:8]}…)"
    assert_signed_in(result, captured, shell, nbsession, who, "managed_identity")
    assert nbsession.account.client_id == user["client_id"]
    result, captured = azlogin(
        shell, f"--method managed_identity --option object_id={user['object_id']}"
    )
    assert result.success and nbsession.account.client_id == user["client_id"]
    assert_no_secret_in([captured.stdout], known_secrets(emu_admin, emulator))


@pytest.mark.parametrize(
    ("tool", "method"), [("az", "azure_cli"), ("pwsh", "powershell"), ("azd", "azd")]
)
def test_developer_tools(emulator, emu_admin, service_env, shell, magics, nbsession, tool, method):
    install_tool(service_env.bin, tool, emulator, user_login(emulator))
    result, captured = azlogin(shell, f"--method {method}")
    assert_signed_in(result, captured, shell, nbsession, ALICE, method)
    assert len(service_env.calls(tool)) == 1  # the sign-in's token serves the ARM call too
    assert_no_secret_in([captured.stdout], known_secrets(emu_admin, emulator))


def test_option_reaches_the_method(emulator, emu_admin, service_env, shell, magics, nbsession):
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    result, _ = azlogin(shell, f"--method az --option subscription={CONTOSO_DATA_SCIENCE}")
    assert result.success
    [call] = service_env.calls("az")
    assert call[call.index("--subscription") + 1] == CONTOSO_DATA_SCIENCE


def test_auth_file(emulator, emu_admin, service_env, shell, magics, nbsession, tmp_path):
    path = tmp_path / "sp.json"
    path.write_text(json.dumps(sdk_auth(emulator)))
    path.chmod(0o600)
    result, captured = azlogin(shell, f"--method auth_file --auth-file {path}")
    who = f"service principal {emulator['service_principal']['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "auth_file")
    # Its subscriptionId became the kernel's subscription.
    assert nbauth.subscription_id(nbsession) == PRODUCTION_SUBSCRIPTION
    assert_no_secret_in([captured.stdout], known_secrets(emu_admin, emulator))


def test_client_secret_from_the_environment_variable(
    emulator, emu_admin, service_env, shell, magics, nbsession
):
    sp = emulator["service_principal"]
    service_env.set(AZURE_CLIENT_SECRET=sp["client_secret"])  # never on the magic's line
    result, captured = azlogin(
        shell, f"--method client_secret --tenant {sp['tenant_id']} --client-id {sp['client_id']}"
    )
    who = f"service principal {sp['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "client_secret")


def test_client_certificate(emulator, emu_admin, service_env, shell, magics, nbsession):
    sp = emulator["service_principal"]
    result, captured = azlogin(
        shell,
        f"--method cert --tenant {sp['tenant_id']} --client-id {sp['client_id']} "
        f"--certificate {sp['certificate_path']}",
    )
    who = f"service principal {sp['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "client_certificate")


# -- user sign-ins ------------------------------------------------------------------------------


def test_device_code(emulator, admin, shell, magics, nbsession):
    result, captured = azlogin(shell, "--method device_code", Person(admin))
    assert captured.stdout.startswith("To sign in, open ")
    assert_signed_in(result, captured, shell, nbsession, ALICE, "device_code")


class PastingPerson(threading.Thread):
    """Signs in on the page a browser sign-in shows, as `username`, and pastes back the address
    the browser ends on (`SignIn.complete`): what a person does on a remote kernel."""

    def __init__(self, session, username: str = ALICE) -> None:
        super().__init__(daemon=True, name="test-pasting-person")
        self.session, self.username = session, username
        self.address: str | None = None
        self.page = ""

    def run(self) -> None:
        from _user_method_fixtures import FakeBrowser

        from nbauth._prompt import BrowserPrompt

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = self.session.pending
            if pending is not None and isinstance(pending.prompt, BrowserPrompt):
                browser = FakeBrowser(self.username, follow=False)
                self.page = pending.prompt.verification_uri
                browser(self.page)
                self.address = browser.ended_on
                pending.complete(self.address)
                return
            time.sleep(0.05)


def test_browser_on_a_remote_kernel_is_finished_by_the_pasted_address(
    emulator, admin, monkeypatch, shell, magics, nbsession
):
    monkeypatch.delenv("NBAUTH_KERNEL_LOCATION", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    person = PastingPerson(nbsession)
    person.start()
    result, captured = azlogin(shell, "--method interactive-browser")
    person.join(20)
    assert person.address is not None and person.address not in captured.stdout
    assert captured.stdout.startswith("Open this page in your browser and sign in: ")
    assert_signed_in(result, captured, shell, nbsession, ALICE, "browser")
    assert not [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def test_broker_on_linux_falls_back_to_the_browser(
    emulator, admin, monkeypatch, shell, magics, nbsession
):
    monkeypatch.delenv("NBAUTH_KERNEL_LOCATION", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:9/hub/api")
    person = PastingPerson(nbsession, BOB)
    person.start()
    result, captured = azlogin(shell, f"--method wam --account {BOB}")
    person.join(20)
    assert "broker" in captured.stdout.splitlines()[0]
    assert "login_hint=bob%40contoso.example" in person.page
    assert_signed_in(result, captured, shell, nbsession, BOB, "browser")


def test_person_method_browser_takes_the_named_account_to_the_browser(
    emulator, admin, monkeypatch, shell, magics, nbsession
):
    """``NBAUTH_PERSON_METHOD=browser`` on a remote kernel: ``%azlogin --account`` (auto with a
    person named) signs that person in in the browser, the name preselected, no device code."""
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")
    monkeypatch.setenv("NBAUTH_PERSON_METHOD", "browser")
    person = PastingPerson(nbsession, BOB)
    person.start()
    result, captured = azlogin(shell, f"--account {BOB}")
    person.join(20)
    assert_signed_in(result, captured, shell, nbsession, BOB, "browser")
    assert "login_hint=bob%40contoso.example" in person.page  # the name is preselected
    assert not [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def _run_ipython_child(program: str, env: dict[str, str], tmp_path: Path) -> dict:
    env = subprocess_env({**env, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(TESTS)])})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_browser_account_is_the_login_hint(emulator, admin, tmp_path):
    """``%azlogin --method browser --account bob`` in a fresh IPython whose ``$BROWSER`` is a
    script that takes the sign-in page's preselected account (``webbrowser`` reads $BROWSER
    once per process, hence the child process)."""
    script = tmp_path / "fake-browser"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from _user_method_fixtures import FakeBrowser\n"
        "FakeBrowser(username=None)(sys.argv[1])\n"
    )
    script.chmod(0o755)
    program = f"""\
        import contextlib, io, json
        from IPython.core.interactiveshell import InteractiveShell
        from _service_fixtures import arm_subscriptions
        import nbauth
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "nbauth")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            shell.run_line_magic("azlogin", "--method browser --account {BOB}")
        account = nbauth.current_account()
        print(json.dumps({{"user": account.username, "method": account.method,
                           "output": out.getvalue(),
                           "subs": arm_subscriptions(shell.user_ns["credential"])}}))
        """
    result = _run_ipython_child(
        program, {"BROWSER": str(script), "NBAUTH_KERNEL_LOCATION": "local"}, tmp_path
    )
    assert result["user"] == BOB and result["method"] == "browser"  # preselected by the hint
    assert PRODUCTION_SUBSCRIPTION in result["subs"]
    lines = result["output"].splitlines()
    assert lines[0].startswith("Opening the sign-in page")
    assert "To cancel, press Ctrl-C." in result["output"]  # the magic's waiting line
    assert lines[-1].startswith(f"Signed in as {BOB} · ") and "browser" in lines[-1]
    assert_no_secret_in([result["output"]], issued_secrets(admin))


def test_username_password_is_refused_without_a_terminal(emulator, admin, shell, magics):
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("azlogin", f"--method ropc --username {ALICE}")
    message = str(caught.value)
    assert "nothing here can prompt for it" in message
    assert f"nbauth.login('username_password', username='{ALICE}', password=...)" in message
    assert admin.requests() == []
    assert "credential" not in shell.user_ns  # nothing changed in the kernel


def test_username_password_through_nbauth_login(emulator, admin):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecated: tested in its own module
            signin = nbauth.login("username_password", username=ALICE, password=ALICE_PASSWORD)
        assert signin.account.username == ALICE
        assert PRODUCTION_SUBSCRIPTION in arm_subscriptions(nbauth.credential())
    finally:
        from nbauth._kernel import reset_session

        reset_session()


def test_username_password_asks_in_a_terminal_without_echo(emulator, admin, tmp_path):
    """A terminal IPython (a real pseudo-terminal): the password is asked with getpass, not
    echoed, and never shown."""
    import pty

    program = f"""\
        import json, warnings
        from IPython.core.interactiveshell import InteractiveShell
        from _service_fixtures import arm_subscriptions
        import nbauth
        warnings.simplefilter("ignore", FutureWarning)
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "nbauth")
        shell.run_line_magic("azlogin", "--method username_password --username {ALICE}")
        account = nbauth.current_account()
        print(json.dumps({{"user": account.username, "method": account.method,
                           "subs": arm_subscriptions(shell.user_ns["credential"])}}))
        """
    env = subprocess_env({"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(TESTS)])})
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal whose controlling tty is the pty
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-c", textwrap.dedent(program)], env)
    seen = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and f"Password for {ALICE}: ".encode() in seen:
            os.write(fd, ALICE_PASSWORD.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert answered, text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["user"] == ALICE and result["method"] == "username_password"
    assert PRODUCTION_SUBSCRIPTION in result["subs"]
    assert ALICE_PASSWORD not in text  # the terminal did not echo it, nothing printed it
    assert f"Signed in as {ALICE}" in text


# -- methods that cannot work here fail fast, saying what to do ----------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--method vscode", "only on Windows or WSL"),
        # Why depends on the machine (no display, or no azure-identity-broker); either way
        # it names another method or the package to install.
        ("--method broker --option fallback=false", "Sign-in method 'broker' is not available"),
        ("--method environment", "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"),
        ("--method workload_identity", "AZURE_FEDERATED_TOKEN_FILE is not set"),
        ("--method managed_identity", "managed identity turned on"),
        ("--method azure_cli", "the Azure CLI (az) is not installed or not on PATH"),
        ("--method auth_file", "AZURE_AUTH_LOCATION"),
    ],
)
def test_unavailable_methods_fail_fast_with_what_to_do(
    emulator, emu_admin, shell, magics, nbsession, line, says
):
    result, captured = azlogin(shell, line)
    message = assert_one_line_error(result, captured, nbauth.MethodUnavailable)
    assert says in message
    assert result.error_in_exec.fix  # what to install, set or use instead
    assert emu_admin.requests() == []  # decided without any network
    assert nbsession.account is None


# -- auto ---------------------------------------------------------------------------------------


def test_auto_picks_the_environment_and_shows_its_report(
    emulator, emu_admin, service_env, shell, magics, nbsession
):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    result, captured = azlogin(shell, "")
    who = f"service principal {sp['client_id'][:8]}…"
    assert_signed_in(result, captured, shell, nbsession, who, "environment")
    report = nbauth.last_auto_report(nbsession)
    lines = captured.stdout.strip().splitlines()
    assert lines[1:] == str(report).splitlines()  # under the badge, one line per step
    assert [line.split()[:2] for line in lines[2:4]] == [
        ["environment", "succeeded"],
        ["workload_identity", "not"],
    ]
    assert_no_secret_in([captured.stdout], known_secrets(emu_admin, emulator))


def test_auto_report_is_collapsed_under_the_widget_badge(
    emulator, emu_admin, service_env, shell, magics, nbsession
):
    import ipywidgets

    magics.ui = "widgets"
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    result, captured = azlogin(shell, "")
    assert result.success and nbsession.account.method == "azure_cli"
    [shown] = captured.outputs
    value = _widget(shown).value
    assert '<details class="nbauth-auto-report"' in value
    assert "What <code>auto</code> tried</summary>" in value
    assert "azure_cli" in value and "signed in as alice@contoso.example" in value
    text = shown.data["text/plain"].splitlines()
    assert text[0].startswith(f"Signed in as {ALICE} · ")
    assert text[1] == f"auto sign-in: signed in as {ALICE} (Azure CLI)."
    state = json.dumps(ipywidgets.Widget.get_manager_state(), default=str)
    assert_no_secret_in([state, *shown.data.values()], known_secrets(emu_admin, emulator))


def test_auto_ends_at_the_device_code_card_and_its_badge_carries_the_report(
    emulator, admin, shell, magics, nbsession
):
    magics.ui = "widgets"
    result, captured = azlogin(shell, "", Person(admin))
    assert result.success
    final = [o for o in captured.outputs if o.update][-1]
    card = _widget(captured.outputs[0])
    assert card.view.state == "succeeded" and card.children == (card.badge,)
    assert '<details class="nbauth-auto-report"' in card.badge.value
    text = final.data["text/plain"].splitlines()
    assert text[0].startswith(f"Signed in as {ALICE}")
    assert text[-1].split()[:2] == ["device_code", "succeeded"]
    assert PRODUCTION_SUBSCRIPTION in arm_subscriptions(shell.user_ns["credential"])


def test_auto_failure_is_one_line_style_with_the_report(
    emulator, emu_admin, service_env, shell, magics, nbsession
):
    service_env.set(AZURE_TOKEN_CREDENTIALS="prod")
    result, captured = azlogin(shell, "")
    message = assert_one_line_error(result, captured, nbauth.AutoSignInFailed)
    assert "AZURE_TOKEN_CREDENTIALS=prod allows no interactive sign-in" in message
    assert str(result.error_in_exec.report) in message
    assert "device_code" in message and "excluded" in message
    assert emu_admin.requests() == []


def test_auto_with_an_account_switches_back_silently(emulator, admin, shell, magics, nbsession):
    azlogin(shell, "", Person(admin, ALICE))
    azlogin(shell, "--method device_code", Person(admin, BOB))
    admin.clear_requests()
    result, captured = azlogin(shell, f"--account {ALICE}")
    assert result.success and nbsession.account.username == ALICE
    assert [r for r in admin.requests() if r.get("endpoint") == "devicecode"] == []
    assert captured.stdout.startswith(f"Signed in as {ALICE}")


def _widget(output):
    import ipywidgets

    model_id = output.data["application/vnd.jupyter.widget-view+json"]["model_id"]
    return ipywidgets.widget_serialization["from_json"](f"IPY_MODEL_{model_id}", None)


# -- clouds -------------------------------------------------------------------------------------


def test_cloud_from_a_json_file(emulator, admin, shell, magics, nbsession, tmp_path):
    ready = tmp_path / "emulator-cloud.json"
    ready.write_text(json.dumps(emulator))  # a ready file is a cloud description too
    result, captured = azlogin(shell, f"--method device_code --cloud {ready}", Person(admin))
    assert_signed_in(result, captured, shell, nbsession, ALICE, "device_code")
    assert nbsession.cloud.name == "nbauth-emulator"
    assert nbsession.account.authority.startswith(emulator["authority_host"])


@pytest.mark.parametrize("name", ["usgov", "AzureUSGovernment", "us-gov"])
def test_named_clouds_choose_the_authority_and_arm_scope(shell, magics, name):
    # Parsed only: signing in would reach Microsoft's hosts.
    from IPython.core.magic_arguments import parse_argstring

    args = parse_argstring(magics.azlogin, f"--cloud {name}")
    request = magics._request(args, "device_code")
    assert request.authority_host == "https://login.microsoftonline.us"
    assert request.scopes == ("https://management.usgovcloudapi.net//.default",)
    assert request.login_kwargs()["cloud"].name == "AzureUSGovernment"


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--method carrier-pigeon", ", ".join(available())),
        ("--method azure_cli --option client_secret=hunter2-Value", "would save a secret"),
        ("--method azure_cli --option access_token=hunter2-Value", "would save a secret"),
        ("--method browser --option Password=hunter2-Value", "would save a secret"),
        ("--method azure_cli --option tenant=contoso", "Give tenant with --tenant"),
        ("--method azure_cli --option subscription", "--option needs NAME=VALUE"),
        ("--method azure_cli --option colour=blue", "does not take colour"),
        ("--method azure_cli --option subscription=a --option subscription=b", "given twice"),
        ("--method device_code --option fallback=false", "takes no --option"),
        ("--option fallback=false", "takes no --option"),
        ("--method environment --auth-file sp.json", "--auth-file goes with --method auth_file"),
        ("--certificate sp.pem", "--certificate goes with --method client_certificate"),
        ("--method environment --account alice@contoso.example", "--account names a person"),
        ("--method username_password", "needs --username USER"),
        ("--cloud nowhere.json", "Cannot read the cloud file"),
        ("--cloud Mars", "accepts --cloud public, china, usgov"),
    ],
)
def test_bad_arguments_are_usage_errors(emulator, emu_admin, shell, magics, line, says):
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("azlogin", line)
    assert says in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert emu_admin.requests() == []


def test_configured_default_method_accepts_aliases(shell, nbsession):
    config = Config()
    config.LoginMagics.method = "az"
    assert LoginMagics(shell=shell, session=nbsession, config=config).method == "azure_cli"
    config.LoginMagics.method = "carrier-pigeon"
    with pytest.raises(TraitError, match="Unknown sign-in method"):
        LoginMagics(shell=shell, session=nbsession, config=config)


def test_help_shows_method_examples(shell, magics):
    doc = shell.find_line_magic("azlogin").__doc__
    for example in ("--method azure_cli", "--auth-file", "--cloud usgov", "--username"):
        assert example in doc


# -- nbauth.login() in a Jupyter kernel shows the card ------------------------------------------


@pytest.mark.slow
def test_nbauth_login_in_a_kernel_shows_the_card_then_the_badge(emulator, admin, service_env):
    from jupyter_client.manager import start_new_kernel

    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "PYTHONPATH": str(REPO_ROOT),
    }
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    messages: list[dict] = []
    try:
        person = Person(admin)
        person.start()
        reply = kc.execute_interactive(
            "import nbauth\nsignin = nbauth.login()\nprint(signin.status)",
            output_hook=messages.append,
            timeout=60,
        )
        person.join(20)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", messages
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    card = displays[0]["content"]
    assert "application/vnd.jupyter.widget-view+json" in card["data"]
    assert card["data"]["text/plain"].startswith("To sign in, open ")
    assert person.codes[0] in card["data"]["text/plain"]
    display_id = card["transient"]["display_id"]
    final = [u for u in updates if u["content"]["transient"]["display_id"] == display_id][-1]
    assert final["content"]["data"]["text/plain"].startswith(f"Signed in as {ALICE} · ")
    assert person.codes[0] not in final["content"]["data"]["text/plain"]
    streams = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert streams.strip() == "succeeded"  # no printed prompt: the card said it
    everything = json.dumps(messages, default=str)
    assert_no_secret_in([everything], issued_secrets(admin))
