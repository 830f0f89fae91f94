"""The ``auto`` chain: each position of the chain signs in, what it reports for the steps
before and after it, AZURE_TOKEN_CREDENTIALS, failures that stop it, and that unavailable
steps cost no process, no request and no prompt (asserted through the report and counts)."""

from __future__ import annotations

import pickle

import pytest
from _service_fixtures import (
    ALICE,
    PRODUCTION_SUBSCRIPTION,
    arm_subscriptions,
    assert_no_secret_in,
    install_tool,
    known_secrets,
    managed_identity_requests,
    service_env_fixture,  # noqa: F401 - fixture
    svc_session_fixture,  # noqa: F401 - fixture
    token_requests,
    user_login,
)

import nbauth
from nbauth._kernel import reset_session
from nbauth._methods.auto import STEPS, AutoReport, StepResult
from nbauth._session import Session
from nbauth._whoami import last_auto_report

CHAIN = [step.name for step in STEPS]
NOT_INSTALLED = {
    "azure_cli": "the Azure CLI (az) is not installed or not on PATH",
    "powershell": "PowerShell (pwsh) is not installed or not on PATH",
    "azd": "the Azure Developer CLI (azd) is not installed or not on PATH",
}


class Prompts:
    """A device code prompt that records what it was shown and approves it as `username`."""

    def __init__(self, admin=None, username: str = ALICE) -> None:
        self.admin, self.username, self.shown = admin, username, []

    def __call__(self, prompt) -> None:
        self.shown.append(prompt.user_code)
        if self.admin is not None:
            self.admin.approve(self.username, prompt.user_code)


def expected(position: str, before: dict[str, str]) -> dict[str, str]:
    """Statuses: `before` for the earlier steps, succeeded at `position`, not reached after."""
    index = CHAIN.index(position)
    out = {name: before.get(name, "skipped") for name in CHAIN[:index]}
    out[position] = "succeeded"
    out.update({name: "not reached" for name in CHAIN[index + 1 :]})
    return out


def auto(session, prompts=None, **kwargs):
    return session.login("auto", prompt=prompts or Prompts(), **kwargs)


def test_environment_first(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    prompts = Prompts()
    signin = auto(svc_session, prompts)

    report = signin.report
    assert report.statuses() == expected("environment", {})
    assert report.chosen == "environment" and signin.method == "environment"
    assert (
        report.step("environment").reason
        == f"signed in as service principal {sp['client_id'][:8]}…"
    )
    assert service_env.calls("az") == [] and prompts.shown == []
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]
    assert last_auto_report(svc_session) is report
    assert_no_secret_in([str(report), report._repr_html_()], known_secrets(emu_admin, emulator))


def test_the_report_is_a_field_of_the_sign_in_and_the_last_one_is_the_sessions(
    emulator, emu_admin, service_env, svc_session
):
    """State you can see: ``SignIn.report`` (None when the method was named) and the session's
    ``last_auto_report``, which no other session shares."""
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    named = svc_session.login("environment")
    assert named.report is None and svc_session.last_auto_report is None
    chosen = auto(svc_session)
    assert isinstance(chosen.report, AutoReport)
    assert svc_session.last_auto_report is chosen.report
    other = Session()
    try:
        assert other.last_auto_report is None and last_auto_report(other) is None
    finally:
        other.close()


def test_workload_identity_second(emulator, emu_admin, service_env, svc_session):
    service_env.set(**emulator["workload_identity"]["env"])
    report = auto(svc_session).report
    assert report.statuses() == expected("workload_identity", {})
    assert report.step("environment").reason == (
        "AZURE_TENANT_ID and AZURE_CLIENT_ID are set but AZURE_CLIENT_SECRET (or "
        "AZURE_CLIENT_CERTIFICATE_PATH) is missing"
    )


def test_managed_identity_third(emulator, emu_admin, service_env, svc_session):
    service_env.set(**emulator["managed_identity"]["env"])
    signin = auto(svc_session)
    report = signin.report
    assert report.statuses() == expected("managed_identity", {})
    assert report.step("workload_identity").reason == "AZURE_FEDERATED_TOKEN_FILE is not set"
    assert signin.account.username == "managed identity (system)"
    assert arm_subscriptions(svc_session.credential()) == [PRODUCTION_SUBSCRIPTION]


def test_azure_client_id_names_the_managed_identity_in_the_chain(
    emulator, emu_admin, service_env, svc_session
):
    mi = emulator["managed_identity"]
    user = mi["user_assigned"][0]
    service_env.set(AZURE_CLIENT_ID=user["client_id"], **mi["env"])
    signin = auto(svc_session)
    assert signin.report.statuses() == expected("managed_identity", {})
    assert signin.account.client_id == user["client_id"]


@pytest.mark.parametrize(
    "tool,position", [("az", "azure_cli"), ("pwsh", "powershell"), ("azd", "azd")]
)
def test_developer_tools(emulator, emu_admin, service_env, svc_session, tool, position):
    install_tool(service_env.bin, tool, emulator, user_login(emulator))
    signin = auto(svc_session)
    report = signin.report
    assert report.statuses() == expected(position, {})
    assert signin.account.username == ALICE and signin.method == position
    for skipped, reason in NOT_INSTALLED.items():
        if CHAIN.index(skipped) < CHAIN.index(position):
            assert report.step(skipped).reason == reason
    # The managed identity step probed the (closed, loopback) IMDS address once, quickly.
    assert report.step("managed_identity").reason.startswith(
        f"no instance metadata service answers at {service_env.imds} (ConnectionRefusedError"
    )
    assert len(service_env.calls(tool)) == 1


def test_kernels_own_account(emulator, emu_admin, service_env, svc_session):
    emu_admin.settings(device_code_interval_s=1)
    svc_session.login("device_code", prompt=Prompts(emu_admin))
    requests_before = len(token_requests(emu_admin))
    prompts = Prompts()
    signin = auto(svc_session, prompts)

    assert signin.report.statuses() == expected("cached", {})
    assert signin.report.step("cached").reason == f"signed in as {ALICE}"
    assert signin.account.username == ALICE and prompts.shown == []
    # The kernel's token was still fresh: no request at all.
    assert len(token_requests(emu_admin)) == requests_before


def test_kernels_own_account_in_another_tenant(emulator, emu_admin, service_env, svc_session):
    """`%azlogin --tenant other` with an account already signed in: that account, in the other
    tenant (a guest there), silently; a stored Contoso token must not answer the question."""
    emu_admin.settings(device_code_interval_s=1)
    svc_session.login("device_code", prompt=Prompts(emu_admin))
    fabrikam = next(t for t in emulator["tenants"] if t["domain"].startswith("fabrikam"))
    prompts = Prompts()
    signin = auto(svc_session, prompts, tenant=fabrikam["domain"])

    assert signin.report.step("cached").status == "succeeded"
    assert signin.account.username == ALICE and prompts.shown == []
    assert signin.account.tenant_id == fabrikam["tenant_id"]


def test_device_code_last(emulator, emu_admin, service_env, svc_session):
    emu_admin.settings(device_code_interval_s=1)
    prompts = Prompts(emu_admin)
    signin = auto(svc_session, prompts)

    assert len(prompts.shown) == 1 and signin.status == "succeeded"
    report = signin.report
    assert report.statuses() == expected("device_code", {})
    assert report.step("cached").reason == "no account is signed in in this kernel yet"
    assert report.step("device_code").reason == f"signed in as {ALICE}"
    assert "auto sign-in: signed in as alice@contoso.example (device code sign-in)." in str(report)
    # Nothing before the device code reached a server or started a process.
    assert managed_identity_requests(emu_admin) == []
    assert [r["grant_type"] for r in token_requests(emu_admin)][0].endswith("device_code")


def test_device_code_still_pending_without_wait(emulator, emu_admin, service_env, svc_session):
    prompts = Prompts()
    signin = auto(svc_session, prompts, wait=False)
    assert signin.status == "pending" and signin.report.step("device_code").status == "waiting"
    assert "waiting for the device code sign-in" in signin.report.headline()
    signin.cancel()
    assert signin.report.step("device_code").status == "failed"
    assert "cancelled" in signin.report.step("device_code").reason


def test_dev_excludes_production_steps(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TOKEN_CREDENTIALS="dev",
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    signin = auto(svc_session)
    report = signin.report
    assert report.selection == "dev"
    assert report.statuses() == expected(
        "azure_cli",
        {
            "environment": "excluded",
            "workload_identity": "excluded",
            "managed_identity": "excluded",
        },
    )
    assert report.step("environment").reason == "AZURE_TOKEN_CREDENTIALS=dev"
    assert signin.account.username == ALICE
    assert token_requests(emu_admin, "client_credentials") == []


def test_prod_never_prompts(emulator, emu_admin, service_env, svc_session):
    service_env.set(AZURE_TOKEN_CREDENTIALS="prod")
    prompts = Prompts()
    with pytest.raises(nbauth.AutoSignInFailed) as caught:
        auto(svc_session, prompts)
    report = caught.value.report
    assert report.statuses() == {
        "environment": "skipped",
        "workload_identity": "skipped",
        "managed_identity": "skipped",
        **{name: "excluded" for name in CHAIN[3:]},
    }
    assert prompts.shown == [] and svc_session.account is None
    message = str(caught.value)
    assert "AZURE_TOKEN_CREDENTIALS=prod allows no interactive sign-in" in message
    assert "none of AZURE_TENANT_ID" in message  # the report is in the message
    assert last_auto_report(svc_session) is report
    restored = pickle.loads(pickle.dumps(caught.value))
    assert str(restored) == message


def test_one_credential_by_name(emulator, emu_admin, service_env, svc_session):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TOKEN_CREDENTIALS="AzureCliCredential",
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    report = auto(svc_session).report
    assert report.selection == "azureclicredential"
    assert report.statuses() == {
        name: ("succeeded" if name == "azure_cli" else "excluded") for name in CHAIN
    }


def test_unknown_value_is_refused_before_trying_anything(service_env, svc_session, emu_admin):
    service_env.set(AZURE_TOKEN_CREDENTIALS="everything")
    with pytest.raises(nbauth.ConfigurationError) as caught:
        auto(svc_session)
    assert "'dev', 'prod'" in str(caught.value) and "azureclicredential" in str(caught.value)
    assert token_requests(emu_admin) == []


def test_configured_production_step_that_fails_stops_the_chain(
    emulator, emu_admin, service_env, svc_session
):
    sp = emulator["service_principal"]
    wrong = "Wrong~secret~value~for~the~chain~1234"
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"], AZURE_CLIENT_ID=sp["client_id"], AZURE_CLIENT_SECRET=wrong
    )
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    with pytest.raises(nbauth.AutoSignInFailed) as caught:
        auto(svc_session)
    report = caught.value.report
    assert report.statuses() == {
        "environment": "failed",
        **{name: "not reached" for name in CHAIN[1:]},
    }
    assert "client secret is not valid" in report.step("environment").reason
    assert "stopped at the environment service principal" in str(caught.value)
    assert isinstance(caught.value.__cause__, nbauth.EntraError)
    assert service_env.calls("az") == [] and svc_session.account is None
    assert_no_secret_in([str(caught.value)], [wrong, *known_secrets(emu_admin, emulator)])


def test_failing_developer_tool_is_passed_over(emulator, emu_admin, service_env, svc_session):
    install_tool(service_env.bin, "az", emulator, user_login(emulator))
    install_tool(
        service_env.bin,
        "azd",
        emulator,
        user_login(emulator, "carol@fabrikam.example", "carol-Passw0rd"),
    )
    emu_admin.revoke(ALICE)  # az's sign-in is revoked; azd's (carol) is fine
    signin = auto(svc_session)
    report = signin.report
    assert report.statuses() == expected("azd", {"azure_cli": "failed"})
    assert "revoked" in report.step("azure_cli").reason
    assert signin.account.username == "carol@fabrikam.example"


def test_missing_tools_cost_no_process(emulator, emu_admin, service_env, svc_session):
    service_env.set(AZURE_TOKEN_CREDENTIALS="dev")
    with pytest.raises(nbauth.AutoSignInFailed):
        # The reasons are nbauth's PATH check, not azure-identity's: no process was started.
        # No device code either: the prompt refuses, as a closed notebook would.
        auto(svc_session, _refusing_prompt)
    report = last_auto_report(svc_session)
    for name, reason in NOT_INSTALLED.items():
        assert report.step(name) == StepResult(
            name, report.step(name).label, "skipped", reason, report.step(name).duration_ms
        )
    assert report.step("device_code").status == "failed"


def _refusing_prompt(prompt) -> None:
    raise nbauth.AuthenticationError("nobody is there to sign in")


def test_module_level_login_and_last_report(emulator, emu_admin, service_env):
    sp = emulator["service_principal"]
    service_env.set(
        AZURE_TENANT_ID=sp["tenant_id"],
        AZURE_CLIENT_ID=sp["client_id"],
        AZURE_CLIENT_SECRET=sp["client_secret"],
    )
    reset_session()
    try:
        signin = nbauth.login("auto")
        assert nbauth.last_auto_report() is signin.report
        assert nbauth.current_account().method == "environment"
    finally:
        reset_session()


def test_report_text_and_html_are_escaped():
    report = AutoReport(selection=None)
    report._results.append(StepResult("environment", "env", "skipped", "<img src=x>", 1.0))
    html = report._repr_html_()
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    assert "<img src=x>" in str(report)


def test_credential_outside_the_default_chain_runs_alone(service_env, svc_session, emu_admin):
    """visualstudiocodecredential is a valid AZURE_TOKEN_CREDENTIALS value: nbauth runs its
    vscode method, alone."""
    service_env.set(AZURE_TOKEN_CREDENTIALS="VisualStudioCodeCredential")
    try:
        signin = auto(svc_session)
    except nbauth.AutoSignInFailed as exc:
        report = exc.report
        assert report.statuses() == {"vscode": "skipped"}
        assert report.step("vscode").reason
    else:
        assert signin.report.statuses() == {"vscode": "succeeded"}
    assert token_requests(emu_admin, "client_credentials") == []
