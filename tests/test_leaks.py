"""The leak audit: nothing secret leaves the kernel.

Canaries: every secret the emulator issued or knows (``GET /admin/issued``: access, refresh and ID
tokens, device codes, authorization codes, the PKCE verifiers sent to its token endpoint, client
secrets, passwords; plus the managed identity endpoint's header). For every sign-in method
registered in `nbauth._methods.available()` that can run against the emulator, for the browser
sign-in finished by pasting back the address on a remote kernel (directly, and after Conditional
Access refused a device code: `PASTE_BACK_FLOWS`), and for the UI paths, these must not appear in:

- what a cell shows: printed output, displays (text and HTML), widget state (what
  ``store_widget_state`` saves into the .ipynb) and tracebacks under ``%xmode Verbose``, which
  print the variables of every frame they show;
- logs at DEBUG of ``nbauth``, ``msal``, ``azure`` (azure-core's network trace on) and
  ``urllib3``, exception text included;
- ``repr`` / ``str`` / ``format`` of the session, sign-in, account, credentials, the tokens
  get_token returns, and errors; pickles of errors and accounts. Credentials, sessions and
  sign-ins refuse to be pickled, saying why.

What nbauth guarantees for library logs: `nbauth._log_redaction` (installed by every Session)
redacts records of msal, azure, urllib3 and nbauth as they are made: JWTs, token-shaped runs,
registered secret values (options named *secret* / *password*), and cuts messages at 10,000
characters. An AccessToken's ``.token`` is the secret itself: its pickle carries it, by nature;
its repr/str do not. Whole-notebook runs (nbclient, widget state stored) are in
``test_leaks_notebook`` below (slow) and tests/test_notebooks_magics.py.

Methods that cannot run here are listed in `NOT_EXERCISABLE` with the reason; a method that is
registered but in neither table fails `test_every_registered_method_is_audited`.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _audit_fixtures import (  # noqa: F401 - debug_log_fixture registers a fixture
    assert_no_leak,
    canaries,
    debug_log_fixture,
    leaked_kinds,
    recording_debug_logs,
)
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    ALICE,
    ARM_SCOPE,
    GRAPH_SCOPE,
    STORAGE_SCOPE,
    MovableClock,
    admin_fixture,
    approving_prompt,
    clock_fixture,
    nbsession_fixture,
    poller_threads,
    sign_in,
)
from _service_fixtures import (  # noqa: F401 - service_env_fixture registers a fixture
    ALICE_PASSWORD,
    PRODUCTION_SUBSCRIPTION,
    install_tool,
    service_env_fixture,
    user_login,
)
from _user_method_fixtures import FakeBrowser
from fixtures.fake_tokens import LEAK_AUDIT_CANARY
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nbauth
from nbauth._errors import AuthenticationError, NbauthError
from nbauth._methods import available
from nbauth._session import Session

# A token-shaped canary the emulator puts into an error text: it must come back redacted.
FAKE_JWT = LEAK_AUDIT_CANARY
ERROR_WITH_TOKEN = {
    "error": "invalid_request",
    "error_description": f"AADSTS900144: The request carried {FAKE_JWT} and failed.",
    "error_codes": [900144],
}


# -- the methods --------------------------------------------------------------------------------


@dataclass
class Ctx:
    session: Session
    clock: MovableClock
    admin: object
    emulator: dict
    env: object  # _service_fixtures.ServiceEnv
    tmp_path: Path
    shown: list[str] = field(default_factory=list)
    """What a flow showed besides its sign-in (refused pastes under %xmode Verbose...)."""


def _device_code(ctx: Ctx):
    return ctx.session.login("device_code", prompt=approving_prompt(ctx.admin))


def _browser(ctx: Ctx):
    ctx.env.set(NBAUTH_KERNEL_LOCATION="local")
    return ctx.session.login("browser", open_browser=FakeBrowser(ALICE))


def _broker(ctx: Ctx):
    # No WAM on Linux: the broker method falls back as the docs describe (browser here).
    ctx.env.set(NBAUTH_KERNEL_LOCATION="local")
    return ctx.session.login("broker", open_browser=FakeBrowser(ALICE), login_hint=ALICE)


def _username_password(ctx: Ctx):
    return ctx.session.login("username_password", username=ALICE, password=ALICE_PASSWORD)


def _auto(ctx: Ctx):
    # Nothing set up: the chain skips every service and tool step and ends in device code.
    return ctx.session.login("auto", prompt=approving_prompt(ctx.admin))


def _sp_env(ctx: Ctx) -> dict:
    sp = ctx.emulator["service_principal"]
    return {
        "AZURE_TENANT_ID": sp["tenant_id"],
        "AZURE_CLIENT_ID": sp["client_id"],
        "AZURE_CLIENT_SECRET": sp["client_secret"],
    }


def _environment(ctx: Ctx):
    ctx.env.set(**_sp_env(ctx))
    return ctx.session.login("environment")


def _workload_identity(ctx: Ctx):
    ctx.env.set(**ctx.emulator["workload_identity"]["env"])
    return ctx.session.login("workload_identity")


def _managed_identity(ctx: Ctx):
    ctx.env.set(**ctx.emulator["managed_identity"]["env"])
    return ctx.session.login("managed_identity")


def _tool(name: str) -> Callable[[Ctx], object]:
    def run(ctx: Ctx):
        install_tool(ctx.env.bin, name, ctx.emulator, user_login(ctx.emulator))
        return ctx.session.login(name)

    return run


def _auth_file(ctx: Ctx):
    sp = ctx.emulator["service_principal"]
    path = ctx.tmp_path / "sdk-auth.json"
    path.write_text(
        json.dumps(
            {
                "clientId": sp["client_id"],
                "clientSecret": sp["client_secret"],
                "subscriptionId": PRODUCTION_SUBSCRIPTION,
                "tenantId": sp["tenant_id"],
                "activeDirectoryEndpointUrl": ctx.emulator["authority_host"],
                "resourceManagerEndpointUrl": ctx.emulator["arm_endpoint"],
            }
        )
    )
    path.chmod(0o600)
    return ctx.session.login("auth_file", auth_file=str(path))


def _client_secret(ctx: Ctx):
    sp = ctx.emulator["service_principal"]
    return ctx.session.login(
        "client_secret",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
    )


def _client_certificate(ctx: Ctx):
    sp = ctx.emulator["service_principal"]
    return ctx.session.login(
        "client_certificate",
        tenant=sp["tenant_id"],
        client_id=sp["client_id"],
        certificate_path=sp["certificate_path"],
    )


RUNNERS: dict[str, Callable[[Ctx], object]] = {
    "device_code": _device_code,
    "browser": _browser,
    "broker": _broker,
    "username_password": _username_password,
    "auto": _auto,
    "environment": _environment,
    "workload_identity": _workload_identity,
    "managed_identity": _managed_identity,
    "azure_cli": _tool("az"),
    "azd": _tool("azd"),
    "powershell": _tool("pwsh"),
    "auth_file": _auth_file,
    "client_secret": _client_secret,
    "client_certificate": _client_certificate,
}

# -- the browser sign-in finished by pasting back the address (issue 12) ------------------------


def _approving_device_codes(admin):
    """The person: approves each device code shown; any other prompt is only read."""

    def prompt(p) -> None:
        if p.user_code:
            admin.approve(ALICE, p.user_code)

    return prompt


def _refused_pastes(ctx: Ctx, signin, address: str, mode: str = "Verbose") -> None:
    """Two wrong pastes into `signin`, each in a cell under ``%xmode mode``: `address` (another
    sign-in's: refused before any request), then this sign-in's state with `address`'s code,
    already redeemed (Entra's refusal). Both leave the sign-in pending."""
    used = _with_state(address, signin.prompt.verification_uri)
    for pasted, error_type in ((address, nbauth.PastedAddressError), (used, AuthenticationError)):
        # The cell names no variable holding the address: that would be the user's own frame.
        namespace = {"signin": signin, "pasted": lambda value=pasted: value}
        shown, error = verbose_cell("signin.complete(pasted())", namespace, mode)
        assert isinstance(error, error_type), (error, shown[-2000:])
        assert signin.status == "pending"
        ctx.shown += [shown, *texts_of(error), pickle.dumps(error).decode("latin-1")]


def _with_state(address: str, authorize_url: str) -> str:
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    fields = {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}
    fields["state"] = parse_qs(urlsplit(authorize_url).query)["state"][0]
    return urlunsplit(urlsplit(address)._replace(query=urlencode(fields)))


def _used_address(ctx: Ctx) -> str:
    """On a remote kernel: the address a finished browser sign-in was completed with (its code
    is redeemed), for a later sign-in to be handed by mistake."""
    ctx.env.set(NBAUTH_KERNEL_LOCATION="remote")
    first = ctx.session.login("browser", wait=False, prompt=lambda p: None)
    used = ctx.admin.pick_account(first.prompt.verification_uri, ALICE)
    first.complete(used)
    return used


def _paste_back(ctx: Ctx):
    """A remote kernel: ``login("browser", wait=False)``, the person signs in in their own
    browser, and ``complete(address)`` redeems the address it ends on, after two wrong pastes."""
    used = _used_address(ctx)
    signin = ctx.session.login("browser", wait=False, prompt=lambda p: None)
    _refused_pastes(ctx, signin, used)
    signin.complete(ctx.admin.pick_account(signin.prompt.verification_uri, ALICE))
    return signin


def _device_code_refused(ctx: Ctx):
    """A remote kernel whose tenant blocks device code: the device-code sign-in is refused
    (AADSTS53003) after the person picks an account, goes on in the browser, and the pasted
    address finishes it, after two wrong pastes."""
    used = _used_address(ctx)
    ctx.admin.settings(block_device_code=True)
    signin = ctx.session.login("device_code", wait=False, prompt=_approving_device_codes(ctx.admin))
    deadline = time.monotonic() + 20
    while not isinstance(signin.prompt, nbauth.BrowserPrompt) and not signin.done():
        assert time.monotonic() < deadline, "the refused device code did not switch"
        time.sleep(0.05)
    _refused_pastes(ctx, signin, used)
    signin.complete(ctx.admin.pick_account(signin.prompt.verification_uri, ALICE))
    return signin


PASTE_BACK_FLOWS: dict[str, Callable[[Ctx], object]] = {
    "browser-paste-back": _paste_back,
    "device_code-refused-then-browser": _device_code_refused,
}
FLOWS = {**RUNNERS, **PASTE_BACK_FLOWS}

NOT_EXERCISABLE = {
    "vscode": "reuses VS Code's sign-in through the Windows broker (azure-identity-broker on "
    "Windows or WSL); on this Linux machine it fails fast with MethodUnavailable, whose "
    "message is audited in test_unavailable_methods_fail_without_secrets",
}

# Tokens from these come from somewhere other than the emulator's token endpoint (the managed
# identity endpoint), so a token-endpoint fault does not make their next token fail.
NOT_FROM_TOKEN_ENDPOINT = {"managed_identity"}


def test_every_registered_method_is_audited():
    missing = [m for m in available() if m not in RUNNERS and m not in NOT_EXERCISABLE]
    assert missing == [], (
        f"sign-in methods {missing} are registered but not in the leak audit: add a runner to "
        f"RUNNERS in tests/test_leaks.py, or list them in NOT_EXERCISABLE with the reason"
    )
    stale = sorted(set(RUNNERS) - set(available()))
    assert stale == [], f"RUNNERS lists methods that are not registered: {stale}"


@pytest.fixture
def ctx(emulator, emu_admin, service_env, tmp_path, monkeypatch):
    emu_admin.settings(device_code_interval_s=1)
    clock = MovableClock()
    session = Session(clock=clock)
    yield Ctx(session, clock, emu_admin, emulator, service_env, tmp_path)
    pending = session.pending
    if pending is not None:
        pending.cancel()
    session.close()


def all_canaries(ctx: Ctx) -> dict[str, list[str]]:
    secrets = canaries(ctx.admin)
    header = ctx.emulator.get("managed_identity", {}).get("header")
    if header:
        secrets["managed_identity_header"] = [header]
    return secrets


def assert_clean(texts, ctx: Ctx, where: str) -> None:
    secrets = all_canaries(ctx)
    assert secrets.get("access_tokens"), "no access token was issued: the audit is vacuous"
    leaked = leaked_kinds(texts, ctx.admin, secrets=secrets)
    assert leaked == [], f"issued secrets ({', '.join(leaked)}) leaked into {where}"
    found = [context_of(text, FAKE_JWT) for text in texts if FAKE_JWT in text]
    assert found == [], f"a token-shaped value from a server leaked into {where}: {found}"


def context_of(text: str, secret: str, width: int = 300) -> str:
    """Where `secret` sits in `text`, with the secret itself masked (for failure messages)."""
    at = text.index(secret)
    return text[max(0, at - width) : at + len(secret) + 80].replace(secret, "<SECRET>")


def sdk_call_with_network_trace(credential) -> int:
    """A real azure-core pipeline with the network trace on (logs headers and bodies)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        HttpLoggingPolicy,
        NetworkTraceLoggingPolicy,
    )
    from azure.core.rest import HttpRequest

    arm = os.environ["NBAUTH_ARM_ENDPOINT"]
    client = PipelineClient(
        arm,
        policies=[
            BearerTokenCredentialPolicy(credential, ARM_SCOPE),
            HttpLoggingPolicy(),
            NetworkTraceLoggingPolicy(logging_enable=True),
        ],
    )
    with client:
        return client.send_request(
            HttpRequest("GET", f"{arm}subscriptions?api-version=2022-12-01")
        ).status_code


def verbose_cell(
    code: str, namespace: dict, mode: str = "Verbose"
) -> tuple[str, BaseException | None]:
    """Run `code` in a real IPython shell under ``%xmode Verbose`` (or `mode`); (what it
    showed, error)."""
    shell = InteractiveShell.instance()
    shell.user_ns.update(namespace)
    shell.run_line_magic("xmode", mode)
    try:
        with capture_output() as captured:
            result = shell.run_cell(code)
    finally:
        shell.run_line_magic("xmode", "Context")
    shown = captured.stdout + captured.stderr
    shown += "".join(str(o.data) for o in captured.outputs)
    return shown, result.error_in_exec


def texts_of(*objects) -> list[str]:
    out = []
    for obj in objects:
        out += [repr(obj), str(obj), f"{obj!s:>10}", format(obj, "")]
    return out


@pytest.mark.parametrize("method", sorted(FLOWS))
def test_method_leaves_no_secret_anywhere(method, ctx, debug_log):
    if method in RUNNERS and method not in available():
        pytest.fail(f"{method} is in RUNNERS but not registered")
    session, admin = ctx.session, ctx.admin

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        signin = FLOWS[method](ctx)
    assert signin.status == "succeeded", signin
    if method in PASTE_BACK_FLOWS:  # the audit must have codes and verifiers to look for
        issued = {kind: len(values) for kind, values in all_canaries(ctx).items()}
        assert issued["authorization_codes"] >= 2 and issued["code_verifiers"] >= 2, issued
    credential, acredential = session.credential(), session.async_credential()
    token = credential.get_token(ARM_SCOPE)
    info = credential.get_token_info(STORAGE_SCOPE)
    atoken = asyncio.run(acredential.get_token(ARM_SCOPE))
    assert token.token and info.token and atoken.token
    assert sdk_call_with_network_trace(credential) == 200
    ctx.clock.advance(3700)  # expired on the session's clock: the refresh path, logged too
    refreshed = credential.get_token(ARM_SCOPE)

    # A failing token request whose error text carries a token-shaped value, in a cell shown
    # with %xmode Verbose (frame variables printed).
    admin.fault("token", status=400, body=ERROR_WITH_TOKEN, count=3)
    shown, error = verbose_cell(
        "credential.get_token(GRAPH_SCOPE)", {"credential": credential, "GRAPH_SCOPE": GRAPH_SCOPE}
    )
    admin.reset()
    if method not in NOT_FROM_TOKEN_ENDPOINT:
        assert isinstance(error, AuthenticationError), (method, error)
        assert "Traceback" in shown or "Error" in shown
    errors = [e for e in (error,) if e is not None]

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(credential)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(acredential)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(session)
    pickles = [pickle.dumps(signin.account).decode("latin-1")]
    pickles += [pickle.dumps(e).decode("latin-1") for e in errors if isinstance(e, NbauthError)]

    whoami = nbauth.whoami(session) if hasattr(nbauth, "whoami") else None
    texts = [
        *texts_of(signin, signin.account, session, credential, acredential),
        *texts_of(token, info, atoken, refreshed),
        *texts_of(*errors),
        *[str(e.__cause__ or "") for e in errors],
        *(texts_of(whoami) + [whoami._repr_html_()] if whoami is not None else []),
        *pickles,
        *[str(w.message) for w in warned],
        shown,
        *ctx.shown,
        debug_log.text,
    ]
    assert_clean(texts, ctx, f"the outputs of the {method!r} sign-in")
    # The audit saw the libraries' own logs, so the redaction was put to work.
    assert {"msal", "azure", "urllib3"} & {n.split(".")[0] for n in debug_log.names()}


XMODES = ("Plain", "Context", "Verbose", "Minimal", "Docs")


@pytest.mark.parametrize("mode", XMODES)
def test_refused_pastes_show_no_secret_under_every_xmode(mode, ctx, debug_log):
    """A wrong address pasted into a browser sign-in (another sign-in's; a used code) fails in
    a cell: under no %xmode does what the cell shows hold the pasted code, a PKCE verifier or
    a token, and the sign-in still finishes."""
    assert mode in InteractiveShell.instance().InteractiveTB.valid_modes
    used = _used_address(ctx)
    signin = ctx.session.login("browser", wait=False, prompt=lambda p: None)

    _refused_pastes(ctx, signin, used, mode)

    signin.complete(ctx.admin.pick_account(signin.prompt.verification_uri, ALICE))
    assert len(all_canaries(ctx)["code_verifiers"]) >= 2  # there to be found
    assert_clean([*ctx.shown, debug_log.text], ctx, f"refused pastes under %xmode {mode}")


def test_unavailable_methods_fail_without_secrets(ctx):
    """Methods that cannot work here fail fast, naming what is missing and no value."""
    sp = ctx.emulator["service_principal"]
    ctx.env.set(AZURE_CLIENT_SECRET=sp["client_secret"])  # a secret in reach of every method
    for method in sorted(NOT_EXERCISABLE):
        with pytest.raises(NbauthError) as caught:
            ctx.session.login(method)
        texts = texts_of(caught.value) + [pickle.dumps(caught.value).decode("latin-1")]
        assert sp["client_secret"] not in "\n".join(texts)
        assert "not available" in str(caught.value) or "install" in str(caught.value).lower()


# -- errors and pickles ---------------------------------------------------------------------------


def test_errors_pickle_without_private_hooks_or_secrets(nbsession, admin):
    from nbauth._ui.display import one_line

    sign_in(nbsession, admin)
    admin.revoke(ALICE)
    with pytest.raises(AuthenticationError) as caught:
        nbsession.credential().get_token(STORAGE_SCOPE)
    error = one_line(caught.value)  # what %azlogin and the card raise in a cell
    assert callable(error._render_traceback_)

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.aadsts == error.aadsts == 50173
    assert not hasattr(copy, "_render_traceback_")  # not None: IPython would call it
    assert_no_leak(
        [pickle.dumps(error).decode("latin-1"), repr(copy), str(copy)],
        admin,
        "a pickled error",
        kinds_expected=["refresh_tokens"],
    )


def test_tokens_print_without_the_token(nbsession, admin):
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    token = credential.get_token(ARM_SCOPE)
    info = credential.get_token_info(ARM_SCOPE)
    for shown in texts_of(token, info) + [repr([token, info]), repr({"t": token})]:
        assert token.token not in shown
        assert "[redacted]" in shown
    # Only the token itself holds the secret: it is what an SDK client puts in a header.
    assert token.token == info.token and token.token.count(".") == 2


# -- logs -----------------------------------------------------------------------------------------


def test_debug_logs_of_a_whole_session_hold_no_secret(nbsession, admin, clock, debug_log):
    """Sign in, refresh, call ARM through azure-core with the network trace, fail: every
    record of every logger at DEBUG, formatted with its exception, is clean."""
    sign_in(nbsession, admin)
    credential = nbsession.credential()
    credential.get_token(ARM_SCOPE)
    assert sdk_call_with_network_trace(credential) == 200
    clock.advance(3700)
    credential.get_token(ARM_SCOPE)
    admin.fault(
        "token", status=200, body=f'{{"access_token": "{FAKE_JWT}', content_type="application/json"
    )
    clock.advance(3700)
    with pytest.raises(AuthenticationError):
        credential.get_token(ARM_SCOPE)

    text = debug_log.text
    assert "Token response is not in json format" in text  # msal's ERROR, body redacted
    assert "Authorization" in text  # azure-core's trace ran (its header value redacted)
    assert FAKE_JWT not in text
    assert_no_leak(text, admin, "DEBUG logs", kinds_expected=["access_tokens", "device_codes"])


def test_registered_secret_values_are_redacted_even_when_short(debug_log):
    import logging

    from nbauth._log_redaction import install, register_secret

    install()
    register_secret("hunter2-Pw")
    logging.getLogger("msal.application").debug("password=%s user=%s", "hunter2-Pw", "bob")
    logging.getLogger("azure.identity").warning("huge: %s", "x" * 50_000)
    assert "hunter2-Pw" not in debug_log.text and "user=bob" in debug_log.text
    assert max(len(line) for line in debug_log.lines) < 11_000


# -- the UI through a real IPython shell -----------------------------------------------------------


class Person:
    """Approves (or declines) the next pending device code, from another thread."""

    def __init__(self, admin, action: str = "approve") -> None:
        import threading

        self.admin, self.action = admin, action
        # Codes already pending belong to earlier sign-ins (e.g. a --no-wait one): not ours.
        self.old = {p["user_code"] for p in admin.pending()}
        self.thread = threading.Thread(target=self._run, daemon=True, name="test-person")
        self.thread.start()

    def _run(self) -> None:
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = [p for p in self.admin.pending() if p["user_code"] not in self.old]
            if pending:
                code = pending[-1]["user_code"]
                if self.action == "approve":
                    self.admin.approve(ALICE, code)
                else:
                    getattr(self.admin, self.action)(code)
                return
            time.sleep(0.05)

    def join(self) -> None:
        self.thread.join(20)


@pytest.mark.parametrize("ui", ["text", "widgets"])
def test_magics_outputs_and_widget_state_hold_no_secret(nbsession, admin, ui, debug_log):
    import ipywidgets

    from nbauth._magics import AccountMagics, LoginMagics

    shell = InteractiveShell.instance()
    login = LoginMagics(shell=shell, session=nbsession)
    login.ui = ui
    shell.register_magics(login)
    shell.register_magics(AccountMagics(shell=shell, session=nbsession))
    cells = [
        ("%azlogin", "approve"),
        ("%azwhoami", None),
        ("credential", None),  # the credential as a cell's value (its repr)
        ("credential.get_token('https://storage.azure.com/.default')", None),
        ("%azaccount", None),
        ("%azsubscription --list", None),
        ("%azlogin --method device_code --no-wait", None),
        ("%azlogout", None),
        ("%azlogin --method device_code", "decline"),
        ("%xmode Verbose", None),
        ("credential.get_token('https://storage.azure.com/.default')", None),  # nobody now
        ("%xmode Context", None),
    ]
    shown = []
    try:
        for code, action in cells:
            person = Person(admin, action) if action else None
            with capture_output() as captured:
                shell.run_cell(code)
            if person is not None:
                person.join()
            shown += [captured.stdout, captured.stderr]
            for output in captured.outputs:
                shown.append(json.dumps(output.data, default=str))
    finally:
        for thread in poller_threads():
            thread.join(5)
        shell.user_ns.pop("credential", None)
    state = json.dumps(ipywidgets.Widget.get_manager_state(drop_defaults=False), default=str)
    assert_no_leak(
        [*shown, state, debug_log.text],
        admin,
        f"{ui} cell outputs, widget state and logs",
        kinds_expected=["access_tokens", "refresh_tokens", "device_codes"],
    )
    assert any("Signed in as" in s for s in shown)


# -- a whole notebook (nbclient, a real kernel, widget state saved) ------------------------------


@pytest.fixture
def notebook_kernel_env(emulator, monkeypatch):
    """What the kernel inherits: the emulator's env (already in os.environ), its admin URL (the
    notebook makes the identity endpoint fail) and the working tree on sys.path."""
    from _emulator_process import REPO_ROOT

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("NBAUTH_TEST_ADMIN_URL", emulator["admin_url"])


@pytest.mark.slow
def test_leaks_notebook(notebook_kernel_env, admin, tmp_path):
    """tests/notebooks/leaks_verbose.ipynb in a real kernel: DEBUG logging of every library to
    the cells' stderr, %xmode Verbose, a sign-in (card), a token as a cell's value, an SDK call
    with azure-core's network trace, a failing token request shown as a Verbose traceback. The
    saved .ipynb, widget state included, holds no issued secret."""
    from test_notebooks_magics import assert_widget_state_saved, errors_in, run_notebook

    run = run_notebook("leaks_verbose.ipynb", admin, tmp_path)

    assert len(run.approved) == 1
    failing = 5  # the cell whose token request fails
    assert errors_in(run, allowed=(0, 1, 2, 3, 4, 5, 6, 7)) == []  # DEBUG logs go to stderr
    assert "Signed in as alice@contoso.example" in run.text(1)
    assert "[redacted]" in run.text(2) and "AccessToken(" in run.text(2)
    assert "ARM answered 200" in run.text(4)
    assert "Authorization" in run.text(4)  # the network trace ran (and was redacted)
    errors = [o for o in run.outputs(failing) if o.output_type == "error"]
    assert errors and errors[0].ename == "AuthenticationError", run.text(failing)
    assert "server error" in errors[0].evalue
    traceback = "\n".join(errors[0].traceback)
    assert "credential" in traceback and "=" in traceback  # Verbose: variables were printed
    assert any("msal" in o.text for o in run.outputs(1) if o.output_type == "stream")
    assert_widget_state_saved(run)
    assert_no_leak(
        run.saved.read_text(),
        admin,
        "the saved notebook",
        kinds_expected=["access_tokens", "refresh_tokens", "id_tokens", "device_codes"],
    )


# -- failed sign-ins under %xmode Verbose -------------------------------------------------------

WRONG_SECRET = "wrong~Secret-canary-0123456789abcdefXYZ"
WRONG_PASSWORD = "wrong-Pw-canary"


def _wrong_client_secret(ctx: Ctx) -> dict:
    sp = ctx.emulator["service_principal"]
    return {
        "method": "client_secret",
        "tenant": sp["tenant_id"],
        "client_id": sp["client_id"],
        "client_secret": WRONG_SECRET,
    }


def _wrong_password(ctx: Ctx) -> dict:
    return {"method": "username_password", "username": ALICE, "password": WRONG_PASSWORD}


def _wrong_environment_secret(ctx: Ctx) -> dict:
    ctx.env.set(**{**_sp_env(ctx), "AZURE_CLIENT_SECRET": WRONG_SECRET})
    return {"method": "environment"}


def _wrong_auth_file_secret(ctx: Ctx) -> dict:
    sp = ctx.emulator["service_principal"]
    path = ctx.tmp_path / "wrong.json"
    path.write_text(
        json.dumps(
            {
                "clientId": sp["client_id"],
                "clientSecret": WRONG_SECRET,
                "tenantId": sp["tenant_id"],
                "activeDirectoryEndpointUrl": ctx.emulator["authority_host"],
                "resourceManagerEndpointUrl": ctx.emulator["arm_endpoint"],
            }
        )
    )
    path.chmod(0o600)
    return {"method": "auth_file", "auth_file": str(path)}


def _malformed_device_code(ctx: Ctx) -> dict:
    ctx.admin.fault("devicecode", patch={"interval": "soon", "user_code": None})
    return {"method": "device_code", "prompt": print}


@pytest.mark.filterwarnings("ignore:Username/password sign-in is deprecated:FutureWarning")
@pytest.mark.parametrize(
    "make",
    [
        _wrong_client_secret,
        _wrong_password,
        _wrong_environment_secret,
        _wrong_auth_file_secret,
        _malformed_device_code,
    ],
    ids=["client_secret", "username_password", "environment", "auth_file", "device_code"],
)
def test_failed_sign_ins_under_verbose_show_no_secret(make, ctx, debug_log):
    """A sign-in that fails, in a cell under %xmode Verbose: the traceback prints frame
    variables, and none of them may be the secret the sign-in was given or was issued."""
    kwargs = make(ctx)
    # The cell names no variable holding the secret (that would be the user's own frame).
    shown, error = verbose_cell(
        "session.login(**arguments())", {"session": ctx.session, "arguments": lambda: kwargs}
    )
    assert isinstance(error, NbauthError), (error, shown[-2000:])
    texts = [shown, debug_log.text, *texts_of(error)]
    blob = "\n".join(texts)
    for value in (WRONG_SECRET, WRONG_PASSWORD, ctx.emulator["service_principal"]["client_secret"]):
        if value in blob:
            pytest.fail(f"a secret sign-in input leaked: {context_of(blob, value)}")
    found = leaked_kinds(texts, ctx.admin, secrets=all_canaries(ctx))
    assert found == [], f"issued secrets ({', '.join(found)}) leaked into a failed sign-in"


@pytest.mark.filterwarnings("ignore:Username/password sign-in is deprecated:FutureWarning")
@pytest.mark.parametrize(
    "make", [_wrong_client_secret, _wrong_password], ids=["secret", "password"]
)
def test_failed_module_level_login_under_verbose_shows_no_secret(make, ctx):
    """The same through ``nbauth.login`` (the kernel's session): its frame is shown too."""
    from nbauth._kernel import reset_session

    kwargs = make(ctx)
    try:
        shown, error = verbose_cell(
            "nbauth.login(**arguments())", {"nbauth": nbauth, "arguments": lambda: kwargs}
        )
    finally:
        reset_session()
    assert isinstance(error, NbauthError), (error, shown[-2000:])
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    # The login frames were shown, with their options' names and hidden values.
    assert "login(" in plain and "'[hidden]'" in plain, plain[-3000:]
    for value in (WRONG_SECRET, WRONG_PASSWORD):
        if value in shown:
            pytest.fail(f"a secret sign-in input leaked: {context_of(shown, value)}")
