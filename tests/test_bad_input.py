"""Bad input, through the magics and ``login``: one line that says what to do, and nothing
changes in the kernel (issue 10, items 9 and 11 to 14, and their families).

Every test here runs in ``service_env`` (no service identity, no developer tool on PATH, the
instance metadata address a closed loopback port) against the emulator, so nothing leaves
loopback. tests/test_magics_property.py throws random input at the same surface.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import pytest
from _core_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    admin_fixture,
    clock_fixture,
    nbsession_fixture,
)
from _service_fixtures import install_tool, service_env_fixture  # noqa: F401
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nbauth import _clouds
from nbauth._errors import ConfigurationError, NbauthError
from nbauth._magics import AccountMagics
from nbauth._persistence import Persistence

SECRET = "hunter2-Sup3r-s3cret"


@pytest.fixture(autouse=True)
def _nothing_but_the_emulator(service_env):
    """See the module docstring."""


@pytest.fixture(autouse=True)
def _user_ns_restored(shell):
    """A test that fails (or binds) leaves the shell's namespace as it found it."""
    saved = dict(shell.user_ns)
    yield
    for key in set(shell.user_ns) - set(saved):
        del shell.user_ns[key]
    for key, value in saved.items():
        if shell.user_ns.get(key) is not value:
            shell.user_ns[key] = value


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch) -> Path:
    """Saved sign-ins go under tmp_path, never the real home (set before any Session is
    made: a Session reads it once)."""
    for name in ("NBAUTH_PERSIST", "NBAUTH_PERSIST_ALLOW_UNENCRYPTED"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "cache"
    monkeypatch.setenv("NBAUTH_CACHE_DIR", str(home))
    return home


@pytest.fixture
def account_magics(shell, nbsession):
    instance = AccountMagics(shell=shell, session=nbsession)
    shell.register_magics(instance)
    return instance


def refused(shell, cell: str) -> str:
    """Run `cell` as a notebook would; assert it failed with one line and no traceback, and
    return that line."""
    with capture_output() as captured:
        result = shell.run_cell(cell)
    error = result.error_in_exec or result.error_before_exec
    assert isinstance(error, (UsageError, NbauthError)), repr(error)
    printed = (captured.stdout + captured.stderr).strip()
    assert "Traceback" not in printed and "----" not in printed, printed
    assert len(printed.splitlines()) == 1, printed
    return printed


def devicecode_requests(admin) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == "devicecode"]


def flat_cloud(host: str = "https://127.0.0.1:9") -> dict:
    return {"authority_host": host, "arm_endpoint": "https://127.0.0.1:9/arm/"}


# -- 9: deeply nested and huge cloud descriptions -----------------------------------------------


def nested_cloud_text(depth: int) -> str:
    return '{"cloud": ' * depth + json.dumps(flat_cloud()) + "}" * depth


@pytest.mark.parametrize(
    "text", [nested_cloud_text(5000), "[" * 100_000 + "]" * 100_000], ids=["cloud", "brackets"]
)
def test_deeply_nested_cloud_file_is_one_line(shell, magics, admin, tmp_path, text):
    path = tmp_path / "cloud.json"
    path.write_text(text)
    line = refused(shell, f"%azlogin --no-wait --cloud {path}")
    assert "nests too deeply" in line or "unknown: cloud" in line
    assert devicecode_requests(admin) == []


def test_deeply_nested_cloud_dict_is_a_configuration_error(nbsession, admin):
    cloud: dict = flat_cloud()
    for _ in range(5000):
        cloud = {"cloud": cloud}
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(cloud=cloud, wait=False)
    assert len(str(caught.value).splitlines()) == 1
    assert devicecode_requests(admin) == []


def test_deeply_nested_nbauth_cloud_names_the_variable(shell, magics, admin, tmp_path, monkeypatch):
    path = tmp_path / "cloud.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    monkeypatch.setenv("NBAUTH_CLOUD", str(path))
    line = refused(shell, "%azlogin --no-wait")
    assert "NBAUTH_CLOUD=" in line and "nests too deeply" in line


def test_huge_cloud_file_is_refused(shell, magics, admin, tmp_path):
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps({**flat_cloud(), "name": "x" * (2 << 20)}))
    line = refused(shell, f"%azlogin --no-wait --cloud {path}")
    assert "larger than" in line
    assert devicecode_requests(admin) == []


@pytest.mark.parametrize(
    "cloud",
    [
        {**flat_cloud(), 1: "x"},  # keys that do not sort together
        {**flat_cloud(), "name": ["a list"]},
        {"authority_host": {"nested": "dict"}, "arm_endpoint": "https://127.0.0.1:9/"},
        {**flat_cloud(), "resources": {"storage": "x" * 100_000}},
    ],
    ids=["int-key", "list-name", "dict-host", "huge-resource"],
)
def test_cloud_dicts_of_the_wrong_shape_are_configuration_errors(nbsession, admin, cloud):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(cloud=cloud, wait=False)
    message = str(caught.value)
    assert len(message) < 400 and len(message.splitlines()) == 1
    assert devicecode_requests(admin) == []


def test_a_named_pipe_as_cloud_file_does_not_hang(nbsession, tmp_path):
    fifo = tmp_path / "cloud.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def resolve() -> None:
        try:
            _clouds.resolve_cloud(str(fifo))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    worker = threading.Thread(target=resolve, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the open() so the thread ends, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("reading a named pipe as a cloud file waited for a writer")
    assert isinstance(outcome[0], ConfigurationError)
    assert "not a regular file" in str(outcome[0])


def test_a_password_in_the_authority_host_is_not_repeated(nbsession, admin):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(authority_host=f"https://me:{SECRET}@127.0.0.1:9", wait=False)
    assert SECRET not in str(caught.value)
    assert "user name or password" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000 + b"]" * 100_000, b"\xd0\x00\xff binary"],
    ids=["nested", "binary"],
)
def test_bad_auth_files_are_configuration_errors(nbsession, admin, tmp_path, content):
    path = tmp_path / "sp.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login("auth_file", auth_file=str(path), wait=False)
    assert str(path) in str(caught.value)
    assert admin.requests() == []


# -- 11: a value typed after a flag is never repeated ---------------------------------------------


@pytest.mark.parametrize(
    ("magic", "line", "names"),
    [
        ("azlogin", f"--client-secret {SECRET}", "--client-secret"),
        ("azlogin", f"--password {SECRET}", "--password"),
        ("azlogin", f"--client-secret={SECRET}", "--client-secret"),
        ("azlogin", f"--no-wait={SECRET}", "--no-wait"),
        ("azlogin", f"--a={SECRET}", "--a"),  # ambiguous abbreviation
        ("azlogin", f"--method client_secret {SECRET}", "unrecognized"),
        ("azlogin", f"--option {SECRET}", "--option"),
        ("azlogin", f'--tenant "{SECRET}', "quotation mark"),
        ("azlogout", f"--password {SECRET}", "--password"),
        ("azwhoami", f"--password {SECRET}", "%azwhoami"),
        ("azaccount", f"--client-secret {SECRET}", "--client-secret"),
        ("azsubscription", f"--token {SECRET}", "--token"),
    ],
)
def test_errors_never_repeat_a_value(shell, magics, account_magics, admin, magic, line, names):
    printed = refused(shell, f"%{magic} {line}")
    assert SECRET not in printed and "Sup3r" not in printed
    assert names in printed
    assert admin.requests() == []


def test_a_secret_flag_says_where_secrets_go(shell, magics, admin):
    printed = refused(shell, f"%azlogin --client-secret {SECRET}")
    assert "AZURE_CLIENT_SECRET" in printed


# -- 12: --var never replaces IPython's or Python's own names ------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "In", "Out", "_ih", "_oh", "_dh", "get_ipython", "exit", "quit",
        "_", "__", "___", "_i", "_ii", "_iii", "_i7", "_7",
        "__name__", "__builtins__", "print", "len", "open", "\uff29n",  # fullwidth I: "In"
    ],
)  # fmt: skip
def test_var_refuses_ipython_and_python_names(shell, magics, admin, name):
    missing = object()
    before = {key: shell.user_ns.get(key, missing) for key in (name, "In", "print")}
    line = refused(shell, f"%azlogin --no-wait --method device_code --var {name}")
    assert "--var" in line and "choose another name" in line
    assert {key: shell.user_ns.get(key, missing) for key in before} == before
    assert devicecode_requests(admin) == []


def test_var_binds_the_name_a_cell_uses(shell, magics, admin, nbsession):
    with capture_output():
        shell.run_line_magic("azlogin", "--no-wait --method device_code --var \uff43red")
    try:
        # Python reads the fullwidth name in a cell as "cred" (NFKC).
        with capture_output():
            result = shell.run_cell("\uff43red")
        assert result.result is nbsession.credential()
    finally:
        nbsession.pending.cancel()


# -- 13: a refused %azlogin leaves the kernel as it was --------------------------------------------


@pytest.fixture
def pending(shell, magics, admin, nbsession):
    """A --no-wait sign-in nobody approves (the test ends it)."""
    with capture_output():
        shell.run_line_magic("azlogin", "--no-wait --method device_code")
    signin = nbsession.pending
    assert signin is not None
    yield signin
    signin.cancel()


@pytest.mark.parametrize(
    "line",
    [
        "--persist bogus --var other",
        "--persist read_write --allow-unencrypted --var other",  # the cache dir is a symlink
        "--var In",
        "--var other --account not-a-username",
        "--var other --method device_code --scope openid",
        "--var other --option client_secret=x --method azure_cli",
        # refused by the method itself, once the line was accepted
        "--var other --method client_secret --tenant contoso.example --client-id c",
        "--var other --method auth_file --auth-file /nonexistent/sp.json",
        "--var other --method azure_cli",  # not installed
    ],
)
def test_refused_azlogin_keeps_the_pending_sign_in_and_binds_nothing(
    shell, pending, admin, nbsession, tmp_path, cache_home, line
):
    target = tmp_path / "elsewhere"
    target.mkdir()
    cache_home.symlink_to(target)  # refused by --persist read_write
    codes = len(devicecode_requests(admin))
    refused(shell, f"%azlogin {line}")
    assert nbsession.pending is pending and pending.status == "pending"
    assert "other" not in shell.user_ns
    assert nbsession.persistence is Persistence.NONE
    assert list(target.iterdir()) == []
    assert len(devicecode_requests(admin)) == codes


def test_refused_azlogin_registers_no_cloud(shell, magics, admin, tmp_path):
    host = "https://127.0.0.1:9"
    path = tmp_path / "cloud.json"
    path.write_text(json.dumps({**flat_cloud(host), "name": "Refused"}))
    refused(shell, f"%azlogin --no-wait --cloud {path} --account not-a-username")
    assert _clouds.cloud_for(host).name != "Refused"


def test_refused_login_leaves_persistence_and_clouds(emulator, admin, cache_home):
    from nbauth._session import Session

    s = Session()
    try:
        with pytest.raises(ConfigurationError):
            s.login("carrier-pigeon", persistence="reauth", wait=False)
        assert s.persistence is Persistence.NONE
        assert not cache_home.exists()
        cloud = {**flat_cloud("https://127.0.0.1:9"), "name": "Refused"}
        with pytest.raises(ConfigurationError):
            s.login(cloud=cloud, authority_host=emulator["authority_host"], wait=False)
        assert _clouds.cloud_for("https://127.0.0.1:9").name != "Refused"
        assert devicecode_requests(admin) == []
    finally:
        s.close()


def test_a_method_that_refuses_takes_back_the_persistence_its_login_chose(
    emulator, admin, cache_home, shell, magics
):
    """The persistence a failing sign-in chose goes back: the kernel is as it was (a
    client_secret sign-in without its secret refuses after the choice was applied)."""
    from nbauth._session import Session

    s = Session()
    try:
        with pytest.raises(ConfigurationError):
            s.login("client_secret", persistence="reauth", wait=False)
        assert s.persistence is Persistence.NONE
    finally:
        s.close()
    refused(shell, "%azlogin --persist reauth --method client_secret --no-wait")
    assert magics.session.persistence is Persistence.NONE


# -- 14: numbers and flags of every public function -----------------------------------------------


BAD_SECONDS = [math.nan, math.inf, -math.inf, -1, 0, True, "5", [5], 10**400]


@pytest.mark.parametrize("timeout", BAD_SECONDS, ids=repr)
def test_login_refuses_a_bad_timeout_before_starting(nbsession, admin, timeout):
    with pytest.raises(ConfigurationError, match="timeout must be") as caught:
        nbsession.login(timeout=timeout, wait=False)
    assert len(str(caught.value)) < 300
    assert devicecode_requests(admin) == []
    assert nbsession.pending is None


@pytest.mark.parametrize("timeout", ["5", True], ids=repr)
def test_the_display_refuses_a_bad_timeout_before_starting(nbsession, admin, timeout):
    from nbauth._ui.display import sign_in

    with pytest.raises(ConfigurationError, match="timeout must be"):
        sign_in(nbsession, wait=True, ui="text", timeout=timeout)
    assert devicecode_requests(admin) == []


def test_signin_wait_refuses_nan_instead_of_waiting_forever(nbsession, admin):
    signin = nbsession.login(wait=False, prompt=lambda prompt: None)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            signin.wait(math.nan)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(5)
    signin.cancel()  # ends a wait that did not refuse
    waiter.join(5)
    assert isinstance(outcome[0], ConfigurationError)
    assert "timeout must be" in str(outcome[0])


@pytest.mark.parametrize(
    ("keyword", "value"),
    [("wait", 0), ("wait", "no"), ("allow_unencrypted", "false"), ("allow_unencrypted", 1)],
)
def test_flags_must_be_true_or_false(nbsession, admin, cache_home, keyword, value):
    kwargs = {"wait": False, keyword: value}
    with pytest.raises(ConfigurationError, match=f"{keyword} must be True or False"):
        nbsession.login(persistence="read_write", **kwargs)
    assert nbsession.persistence is Persistence.NONE
    assert not cache_home.exists()
    assert devicecode_requests(admin) == []


@pytest.mark.parametrize("value", [math.nan, math.inf, 10**30, "10", True, -5], ids=repr)
def test_process_timeout_is_checked(emulator, nbsession, service_env, value):
    install_tool(service_env.bin, "az", emulator, None)
    with pytest.raises(ConfigurationError, match="process_timeout"):
        nbsession.login("azure_cli", process_timeout=value)
    assert service_env.calls("az") == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_id": ["x"]},
        {"client_id": "x" * 100_000},
        {"authority_host": 443},
        {"tenant": {"a": 1}},
        {"claims": 5},
        {"prompt": "print"},
    ],
    ids=lambda kwargs: next(iter(kwargs)),
)
def test_login_arguments_of_the_wrong_type_are_one_sentence(nbsession, admin, kwargs):
    with pytest.raises(ConfigurationError) as caught:
        nbsession.login(wait=False, **kwargs)
    message = str(caught.value)
    assert len(message) < 400 and len(message.splitlines()) == 1
    assert devicecode_requests(admin) == []
