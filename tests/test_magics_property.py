"""Random options and environment values at every magic and at ``nbauth.login`` (issue 10,
"Done means"): whatever comes in, a command either works or ends in one line (no traceback, no
value typed after a secret-sounding flag), and a command that fails leaves the kernel as it
was: its variables, the kernel session's account, accounts and pending sign-in, persistence,
the cloud registry and the environment.

Nobody has to act: every ``%azlogin`` gets ``--no-wait`` and ``nbauth.login`` never gets
``wait=True``, so a device code sign-in stays pending (nobody approves it) until the example
ends; the emulator's codes live 20 s, in case anything still waited. Nothing leaves loopback:
authority hosts and clouds are the emulator, a closed loopback port, or values refused before
any request (no real cloud name is ever drawn); ``service_env`` puts no developer tool on PATH
and the instance metadata address on a closed loopback port; the kernel reports itself remote,
so the browser method never opens a browser.

150 examples by default (about 15 s); ``PROPERTY_EXAMPLES=2000`` for a longer hunt.

Persistence chosen by the failing command itself (``--persist reauth``,
``persistence="read_write"``) goes back too when the sign-in method then refuses or fails.
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import os
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from _core_fixtures import ALICE, approving_prompt, poller_threads
from _core_fixtures import admin_fixture as admin_fixture  # noqa: F401 - registers `admin`
from _service_fixtures import service_env_fixture  # noqa: F401 - registers `service_env`
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import nbauth
from nbauth import _clouds
from nbauth import _kernel as kernel_module
from nbauth._errors import ConfigurationError, NbauthError

SECRET = "Zq9hyp-S3cret-marker"
"""Only ever given where a secret would go; it must never be shown."""

ENV_NAMES = (
    "NBAUTH_PERSIST",
    "NBAUTH_PERSIST_ALLOW_UNENCRYPTED",
    "NBAUTH_CLOUD",
    "AZURE_AUTHORITY_HOST",
)
CLOSED = "https://127.0.0.1:9"  # nothing listens on the discard port: refused at once
ARM_SCOPE = "https://management.azure.com//.default"


# -- the files and values input is drawn from ---------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory, emulator) -> dict[str, str]:
    """Paths of cloud and auth files, good and bad, all on loopback."""
    root = tmp_path_factory.mktemp("property-files")

    def write(name: str, text: str | bytes) -> str:
        path = root / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        path.chmod(0o600)
        return str(path)

    closed = {"authority_host": CLOSED, "arm_endpoint": f"{CLOSED}/arm/"}
    (root / "directory.json").mkdir()
    return {
        "emulator": write("emulator.json", json.dumps(emulator)),
        "closed": write("closed.json", json.dumps(closed)),
        "nested": write("nested.json", '{"cloud": ' * 3000 + json.dumps(closed) + "}" * 3000),
        "brackets": write("brackets.json", "[" * 50_000 + "]" * 50_000),
        "huge": write("huge.json", json.dumps({**closed, "name": "x" * (1 << 21)})),
        "not_json": write("not.json", "{not json"),
        "binary": write("binary.json", b"\xd0\x00\xff"),
        "list": write("list.json", "[1, 2]"),
        "missing": str(root / "missing.json"),
        "directory": str(root / "directory.json"),
    }


def junk() -> st.SearchStrategy[str]:
    """Typed text: no line breaks (a cell's next line would be code), and none of IPython's
    expansion characters ({expr} and $name are evaluated in a magic's line)."""
    return st.text(
        st.characters(
            blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="{}$"
        ),
        max_size=12,
    )


def values(files: dict[str, str]) -> st.SearchStrategy[str]:
    return st.one_of(
        junk(),
        st.sampled_from(
            [
                "nan", "inf", "-1", "0", "1e999", "true", "x" * 5000, "'", '"', "--", "-",
                "\uff29n", "alice@contoso.example", "contoso.example", "openid",
                *files.values(),
            ]
        ),
    )  # fmt: skip


METHODS = [
    "auto", "device_code", "devicecode", "browser", "broker", "vscode", "username_password",
    "environment", "workload_identity", "managed_identity", "azure_cli", "azd", "powershell",
    "auth_file", "client_secret", "client_certificate", "carrier-pigeon", "",
]  # fmt: skip
VAR_NAMES = [
    "credential", "cred", "In", "Out", "_ih", "_", "_i3", "get_ipython", "print", "__name__",
    "class", "1x", "\uff43red", "\uff29n",
]  # fmt: skip
SECRET_FLAGS = ["--client-secret", "--password", "--token", "--secret", "--pwd"]


def azlogin_words(files: dict[str, str]) -> st.SearchStrategy[list[str]]:
    value = values(files)
    flag_and_value = st.one_of(
        st.tuples(st.just("--method"), st.sampled_from(METHODS)),
        st.tuples(st.sampled_from(["--tenant", "-t", "--client-id", "--scope"]), value),
        st.tuples(
            st.just("--cloud"),
            st.sampled_from(["moon", "", *[p for k, p in files.items() if k != "emulator"]]),
        ),
        st.tuples(st.sampled_from(["--account", "-a", "--username"]), value),
        st.tuples(st.sampled_from(["--auth-file", "--certificate"]), value),
        st.tuples(
            st.just("--option"),
            st.one_of(
                st.sampled_from(["client_secret", "password"]).map(f"{{}}={SECRET}".format),
                st.builds(
                    "{}={}".format,
                    st.sampled_from(["subscription", "object_id", "process_timeout", "fallback"]),
                    value,
                ),
                value,
            ),
        ),
        st.tuples(st.just("--var"), st.sampled_from(VAR_NAMES)),
        st.tuples(
            st.just("--persist"),
            st.sampled_from(["", "none", "read_write", "reauth", "bogus", "READ-WRITE"]),
        ),
        st.tuples(st.sampled_from(["--allow-unencrypted", "--no-wait", "--help"]), st.just("")),
        st.tuples(st.sampled_from(SECRET_FLAGS), st.sampled_from([SECRET, f"={SECRET}"])),
        st.tuples(st.just(""), st.just(SECRET)),  # a secret typed on its own
        st.tuples(st.just(""), value),
    )
    return st.lists(flag_and_value, max_size=4).map(_joined)


def _joined(pairs: list[tuple[str, str]]) -> list[str]:
    words: list[str] = []
    for flag, value in pairs:
        if value.startswith("="):
            words.append(flag + value)
        else:
            words.extend(word for word in (flag, _quoted(value)) if word)
    return words


def _quoted(value: str) -> str:
    if value and not any(c.isspace() for c in value):
        return value
    return '"' + value.replace('"', "") + '"'


def commands(files: dict[str, str]) -> st.SearchStrategy[tuple[str, object]]:
    value = values(files)
    secretish = st.tuples(st.sampled_from(SECRET_FLAGS), st.just(SECRET)).map(" ".join)
    azlogin = azlogin_words(files).map(
        lambda words: ("magic", "azlogin --no-wait " + " ".join(words))
    )
    return st.one_of(
        st.just(("magic", "azlogin --no-wait --method device_code")),  # a sign-in stays pending
        azlogin,
        azlogin,
        st.builds(
            lambda words: ("magic", "azlogout " + " ".join(words)),
            st.lists(st.one_of(st.just("--all"), secretish, value.map(_quoted)), max_size=2),
        ),
        st.one_of(st.just(""), secretish, value.map(_quoted)).map(
            lambda text: ("magic", "azwhoami " + text)
        ),
        st.builds(
            lambda flag, text: ("magic", f"azaccount {flag} {text}".rstrip()),
            st.sampled_from(["--use", "--logout", "--list", "", "--list --use"]),
            st.one_of(st.just(ALICE), value.map(_quoted)),
        ),
        secretish.map(lambda text: ("magic", f"azaccount {text}")),
        st.builds(
            # --tenant and --set of a real tenant could ask the person to sign in: not drawn.
            lambda flag, text: ("magic", f"azsubscription {flag} {text}".rstrip()),
            st.sampled_from(["--list", "--filter", "", "--set --list"]),
            junk().map(_quoted),
        ),
        secretish.map(lambda text: ("magic", f"azsubscription {text}")),
        login_kwargs(files).map(lambda kwargs: ("login", kwargs)),
        st.just(("sign_in", ALICE)),  # an approved sign-in: the prompt approves the code
    )


class DeepCloud(dict):
    """A cloud dict nested 3000 deep, with a repr that does not recurse (for reports)."""

    def __init__(self) -> None:
        inner: dict = {"authority_host": CLOSED, "arm_endpoint": CLOSED}
        for _ in range(3000):
            inner = {"cloud": inner}
        super().__init__(inner)

    def __repr__(self) -> str:
        return "DeepCloud()"


@st.composite
def login_kwargs(draw, files: dict[str, str]) -> dict:
    """Arguments for ``nbauth.login``: some good ones, and (mostly) one bad, so that every
    argument gets its turn at being the first one checked."""
    anything = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), junk(), st.lists(junk(), max_size=2)
    )
    good = {
        "method": st.sampled_from(["device_code", "auto", "browser"]),
        "tenant": st.sampled_from(["contoso.example", "organizations"]),
        "client_id": st.just("04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
        "scopes": st.sampled_from(["https://storage.azure.com/.default", [ARM_SCOPE]]),
        "timeout": st.sampled_from([None, 30, 0.5]),
        "persistence": st.sampled_from(["none", None]),
        "allow_unencrypted": st.sampled_from([None, False]),
        "cloud": st.sampled_from([files["emulator"], None]),
    }
    bad = {
        "method": st.sampled_from(METHODS),
        "tenant": anything,
        "client_id": st.one_of(anything, st.just("x" * 5000)),
        "scopes": st.one_of(anything, st.just("openid")),
        # Never a host name that could be looked up: loopback, or refused before any request.
        "authority_host": st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.lists(junk(), max_size=2),
            junk().map(f"{CLOSED}/{{}}x".format),  # a path: refused
            junk().map("http://{}".format),
            st.sampled_from([CLOSED, f"https://me:{SECRET}@127.0.0.1:9", "https://[::1", ""]),
        ),
        "timeout": st.one_of(anything, st.sampled_from([math.nan, math.inf, "5", 10**400])),
        "persistence": st.one_of(anything, st.sampled_from(["reauth", "read_write", "bogus"])),
        "allow_unencrypted": anything,
        "cloud": st.one_of(
            anything,
            st.sampled_from(
                [
                    DeepCloud(),
                    {"authority_host": CLOSED, "arm_endpoint": CLOSED},
                    {1: 2, "a": "b"},
                    {"authority_host": [CLOSED], "arm_endpoint": CLOSED},
                    files["nested"],
                    files["huge"],
                    files["closed"],
                    files["binary"],
                    "moon",
                ]
            ),
        ),
        "wait": st.sampled_from([0, 1, "no", None, True]),
        "client_secret": st.just(SECRET),
        "password": st.just(SECRET),
        "process_timeout": anything,
        "claims": anything,
        "prompt": st.sampled_from(["print", 5]),
    }
    kwargs = {key: draw(strategy) for key, strategy in good.items() if draw(st.booleans())}
    for key in draw(st.lists(st.sampled_from(sorted(bad)), max_size=2, unique=True)):
        kwargs[key] = draw(bad[key])
    if kwargs.get("wait", False) is True:
        kwargs["prompt"] = None  # blocking: only where nothing is asked (no code is shown)
        kwargs["method"] = draw(st.sampled_from(["client_secret", "azure_cli", "environment"]))
    else:
        kwargs.setdefault("wait", False)
    return kwargs


def environments(files: dict[str, str], authority_host: str) -> st.SearchStrategy[dict]:
    """Values for ENV_NAMES (None: unset). The authority host is never left to the public
    cloud: without NBAUTH_CLOUD, AZURE_AUTHORITY_HOST is always set."""
    persist = st.sampled_from([None, "none", "reauth", "read_write", "sometimes", "", " "])
    allow = st.sampled_from([None, "1", "0", "true", "perhaps", ""])
    cloud = st.sampled_from(
        [None, None, "moon", files["emulator"], files["closed"], files["nested"],
         files["brackets"], files["not_json"], files["missing"]]
    )  # fmt: skip
    host = st.sampled_from(
        [authority_host, authority_host, CLOSED, "http://x",
         "not a host", f"https://me:{SECRET}@127.0.0.1:9", "https://[::1"]
    )  # fmt: skip
    return st.fixed_dictionaries(
        {
            "NBAUTH_PERSIST": persist,
            "NBAUTH_PERSIST_ALLOW_UNENCRYPTED": allow,
            "NBAUTH_CLOUD": cloud,
            "AZURE_AUTHORITY_HOST": host,
        }
    )


# -- running one example --------------------------------------------------------------------------


@contextmanager
def environment(values: dict[str, str | None]):
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def kernel_state(shell) -> dict:
    """What a failed command must leave as it was."""
    state: dict = {
        "names": {name: id(value) for name, value in shell.user_ns.items()},
        "clouds": dict(_clouds._registered),
        "environment": dict(os.environ),
    }
    s = kernel_module._kernel_session
    if s is None:  # made on first use, with what the environment says
        state.update(session=None, account=None, accounts=[], pending=None, persistence=None)
        return state
    pending = s.pending
    state.update(
        session=id(s),
        account=s.account.username if s.account else None,
        accounts=[account.username for account in s.accounts()],
        pending=(id(pending), pending.status) if pending is not None else None,
    )
    try:
        state["persistence"] = s.persistence
    except ConfigurationError:
        state["persistence"] = None  # a bad $NBAUTH_PERSIST: nothing chosen yet
    return state


def _one_line(error: BaseException, printed: str) -> None:
    lines = [line for line in printed.splitlines() if line.strip()]
    if type(error).__name__ == "AutoSignInFailed":
        # The auto chain's failure is a sentence and the table of what it tried.
        assert lines and lines[0] == str(error).splitlines()[0], printed
        return
    if isinstance(error, (UsageError, ConfigurationError)):
        assert len(lines) == 1, printed  # a refusal says one thing
    else:
        assert len(str(error).splitlines()) == 1, str(error)
        assert lines and lines[-1].endswith(str(error)), printed


def run_magic(shell, line: str) -> BaseException | None:
    with capture_output() as captured:
        result = shell.run_cell("%" + line)
    error = result.error_before_exec or result.error_in_exec
    printed = captured.stdout + captured.stderr
    assert "Traceback" not in printed and "-----" not in printed, printed
    assert SECRET not in printed, printed
    if error is not None:
        assert isinstance(error, (UsageError, NbauthError)), repr(error)
        _one_line(error, printed)
    return error


def run_login(kwargs: dict) -> BaseException | None:
    with capture_output() as captured:
        try:
            nbauth.login(**kwargs)
        except NbauthError as exc:
            error: BaseException | None = exc
        else:
            error = None
    printed = captured.stdout + captured.stderr
    assert SECRET not in printed, printed
    if error is not None:
        assert SECRET not in str(error), str(error)
        _one_line(error, str(error))
        if isinstance(error, ConfigurationError):
            assert error._render_traceback_() == [str(error)]  # IPython shows the sentence
    return error


def run_sign_in(admin, username: str) -> BaseException | None:
    try:
        nbauth.login("device_code", prompt=approving_prompt(admin, username), timeout=20)
    except NbauthError as exc:
        assert len(str(exc).splitlines()) == 1, str(exc)
        return exc
    return None


def run(shell, admin, command: tuple[str, object]) -> None:
    kind, payload = command
    s = kernel_module._kernel_session
    if kind == "magic" and str(payload).startswith("azsubscription") and s and s.pending:
        # Listing subscriptions waits for a pending sign-in (that is its job); nobody here
        # would approve it, so the person cancels it first.
        s.pending.cancel()
    before = kernel_state(shell)
    if kind == "magic":
        error = run_magic(shell, payload)  # type: ignore[arg-type]
    elif kind == "login":
        error = run_login(payload)  # type: ignore[arg-type]
    else:
        error = run_sign_in(admin, payload)  # type: ignore[arg-type]
    if error is None:
        return  # a command that worked may change anything
    after = kernel_state(shell)
    # $NBAUTH_CLOUD's cloud is registered when first read: configuration, not a change.
    from_environment = set(_clouds._env_cache.values())
    for state in (before, after):
        state["clouds"] = {h: c for h, c in state["clouds"].items() if c not in from_environment}
    if before["session"] is None:
        for state in (before, after):
            del state["session"], state["persistence"]
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert not changed, f"{command!r} failed ({error}) and changed {changed}"


# -- the test ---------------------------------------------------------------------------------


@dataclass
class Kernel:
    shell: Any
    authority_host: str
    """The emulator's."""


@pytest.fixture
def loopback_only(monkeypatch) -> list:
    """Names this process tried to look up that are not loopback: none, or the test fails
    (the lookup itself is refused, so nothing leaves the machine meanwhile)."""
    tried: list = []
    lookup = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if not _is_loopback(host):
            tried.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "only loopback in this test")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield tried
    assert tried == []


def _is_loopback(host: object) -> bool:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture
def kernel(shell, emulator, admin, service_env, files, loopback_only, tmp_path, monkeypatch):
    """A shell for `%load_ext nbauth`, with the kernel session ended before and after."""
    admin.settings(device_code_lifetime_s=20)
    monkeypatch.setenv("NBAUTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NBAUTH_KERNEL_LOCATION", "remote")
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal: a password is never asked
    kernel_module.reset_session()
    saved = dict(shell.user_ns)
    yield Kernel(shell, emulator["authority_host"])
    end_kernel_session()
    shell.user_ns.clear()
    shell.user_ns.update(saved)


def end_kernel_session() -> None:
    with environment({"NBAUTH_PERSIST": "none", "NBAUTH_PERSIST_ALLOW_UNENCRYPTED": None}):
        kernel_module.reset_session()


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "150")),
    deadline=None,
    database=None,  # each run draws afresh; nothing is written into the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_input_ends_in_one_line_and_a_failure_changes_nothing(kernel, admin, files, data):
    env = data.draw(environments(files, kernel.authority_host), label="environment")
    steps = data.draw(st.lists(commands(files), min_size=1, max_size=3), label="commands")
    shell = kernel.shell
    names = set(shell.user_ns)
    # Loaded for each example: magics keep the kernel session they first used.
    nbauth.load_ipython_extension(shell)
    try:
        with environment(env):
            for command in steps:
                run(shell, admin, command)
    finally:
        nbauth.unload_ipython_extension(shell)
        end_kernel_session()
        for name in set(shell.user_ns) - names:
            del shell.user_ns[name]
    # Every sign-in a command started was the kernel session's, so ending it ended them all
    # (a poller asleep after a slow_down answer wakes up first).
    for thread in poller_threads():
        thread.join(15)
    assert poller_threads() == []
