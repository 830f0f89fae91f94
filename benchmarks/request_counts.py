"""Request counts: how many requests reach the identity endpoint for the usual notebook moments.

1. the first sign-in, until the code is shown (nbauth: ``%azlogin``);
2. a token for a second resource;
3. signing in again in the same kernel (nbauth: ``%azlogin`` again; azure-identity: re-running
   the cell, i.e. a new ``DeviceCodeCredential``);
4. a restarted kernel with a persisted cache (two processes sharing a cache directory).

"Until the code is shown" is read from the emulator's log at the moment the code is printed
(nbauth: the first line ``%azlogin`` writes; azure-identity: its ``prompt_callback``), before
any poll can start. The counts are exact; ``tests/test_bench_counts.py`` asserts them.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from . import _setup as S
from ._result import ERROR, Row, verdict

TARGETS = {
    "first_sign_in_until_code": 2,
    "second_resource": 1,
    "second_sign_in": 0,
    "restarted_kernel": 1,
}
"""Upper bounds nbauth is held to (<= 2, 1, 0, <= 1)."""


@dataclass
class Counts:
    first_sign_in_until_code: int | None
    second_resource: int | None
    second_sign_in: int | None
    restarted_kernel: int | None
    restarted_kernel_note: str = ""


class _OnFirstOutput(io.TextIOBase):
    """A stdout that calls `on_first` when the first visible text is written (then keeps it)."""

    def __init__(self, on_first: Callable[[], None]) -> None:
        self._on_first = on_first
        self.fired = False
        self.text: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if not self.fired and s.strip():
            self.fired = True
            self._on_first()
        self.text.append(s)
        return len(s)


def _approve_newest(admin, username: str = S.ALICE) -> None:
    if admin.pending():
        admin.approve(username)


def _azlogin(shell, admin, line: str = "") -> tuple[int | None, int, str]:
    """Run ``%azlogin`` (text mode). Returns (identity requests when the first line appeared,
    identity requests in total, the output). A shown code is approved as a person would."""
    seen_at_first_output: list[int] = []

    def on_first() -> None:
        seen_at_first_output.append(len(S.identity_requests(admin)))
        _approve_newest(admin)

    out = _OnFirstOutput(on_first)
    with contextlib.redirect_stdout(out):
        shell.run_line_magic("azlogin", line)
    first = seen_at_first_output[0] if seen_at_first_output else None
    return first, len(S.identity_requests(admin)), "".join(out.text)


def _shell_with_magics(session):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from nbauth._magics import LoginMagics

    config = Config()
    # No history database: the benchmark's IPYTHONDIR is gone before IPython's atexit runs.
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.register_magics(LoginMagics(shell=shell, session=session))
    return shell


def nbauth_counts(info: dict, admin, *, restarted_kernel: bool = True) -> Counts:
    """nbauth through ``%azlogin`` in an IPython InteractiveShell, on a fresh Session."""
    S.fast_device_codes(admin)
    session = S.nbauth_session()
    shell = _shell_with_magics(session)
    try:
        admin.clear_requests()
        first, _, output = _azlogin(shell, admin)
        if session.account is None:
            raise RuntimeError(f"%azlogin did not sign in: {output[-300:]!r}")

        admin.clear_requests()
        shell.user_ns["credential"].get_token(S.STORAGE_SCOPE)
        second_resource = len(S.identity_requests(admin))

        admin.clear_requests()
        _, second_sign_in, _ = _azlogin(shell, admin)
    finally:
        shell.user_ns.pop("credential", None)
        pending = session.pending
        if pending is not None:
            pending.cancel()
        session.close()
    restarted, note = (None, "not measured")
    if restarted_kernel:
        restarted, note = nbauth_restarted_kernel(info, admin)
    return Counts(first, second_resource, second_sign_in, restarted, note)


def azure_identity_counts(info: dict, admin, *, restarted_kernel: bool = True) -> Counts:
    """azure-identity's DeviceCodeCredential, the way a notebook cell uses it."""
    scope = "https://management.azure.com/.default"
    S.fast_device_codes(admin)
    admin.clear_requests()
    at_prompt: list[int] = []

    def prompt(verification_uri: str, user_code: str, expires_on: object) -> None:
        at_prompt.append(len(S.identity_requests(admin)))
        admin.approve(S.ALICE, user_code)

    cred = S.azure_identity_device_code(admin, prompt_callback=prompt)
    cred.get_token(scope)

    admin.clear_requests()
    cred.get_token(S.STORAGE_SCOPE)
    second_resource = len(S.identity_requests(admin))

    # Re-running the sign-in cell builds a new credential, with a new in-memory cache.
    admin.clear_requests()
    S.azure_identity_device_code(admin).get_token(scope)
    second_sign_in = len(S.identity_requests(admin))

    restarted, note = (None, "not measured")
    if restarted_kernel:
        restarted, note = azure_identity_restarted_kernel(info, admin)
    return Counts(at_prompt[0], second_resource, second_sign_in, restarted, note)


# -- restarted kernels: two processes, one cache directory -----------------------------------

_AI_OPTIONS = (
    "import os, sys\n"
    "from azure.identity import AuthenticationRecord, DeviceCodeCredential, TokenCachePersistenceOptions\n"
    "OPTIONS = TokenCachePersistenceOptions(name='nbauth-bench', allow_unencrypted_storage=True)\n"
    "SCOPE = 'https://management.azure.com/.default'\n"
    "AUTHORITY = os.environ['AZURE_AUTHORITY_HOST']\n"
)
_AI_FIRST = _AI_OPTIONS + textwrap.dedent(
    """
    from nbauth.emulator import EmulatorAdmin
    admin = EmulatorAdmin(os.environ['NBAUTH_BENCH_ADMIN_URL'])
    cred = DeviceCodeCredential(
        authority=AUTHORITY, disable_instance_discovery=True, cache_persistence_options=OPTIONS,
        prompt_callback=lambda uri, code, expires: admin.approve('alice@contoso.example', code))
    record = cred.authenticate(scopes=[SCOPE])
    with open(sys.argv[1], 'w') as f:
        f.write(record.serialize())
    """
)
_AI_SECOND = _AI_OPTIONS + textwrap.dedent(
    """
    def refuse(*args):
        raise SystemExit('the restarted kernel asked for a new sign-in')
    with open(sys.argv[1]) as f:
        record = AuthenticationRecord.deserialize(f.read())
    # The record names the authority; passing it again is an error.
    cred = DeviceCodeCredential(
        disable_instance_discovery=True, cache_persistence_options=OPTIONS,
        authentication_record=record, prompt_callback=refuse)
    cred.get_token(SCOPE)
    """
)

_NB_KERNEL = textwrap.dedent(
    """
    import os, threading, time
    from IPython.core.interactiveshell import InteractiveShell
    from nbauth.emulator import EmulatorAdmin
    admin = EmulatorAdmin(os.environ['NBAUTH_BENCH_ADMIN_URL'])
    def person():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if admin.pending():
                admin.approve('alice@contoso.example')
                return
            time.sleep(0.05)
    threading.Thread(target=person, daemon=True).start()
    shell = InteractiveShell.instance()
    shell.run_line_magic('load_ext', 'nbauth')
    shell.run_line_magic('azlogin', '--persist --allow-unencrypted')
    assert shell.user_ns['credential'].get_token('https://management.azure.com//.default').token
    """
)


def _run_child(code: str, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", S.GUARD_SOURCE + code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"child process failed: {last[:200]}")


def _describe(requests: list[dict]) -> str:
    """``discovery, token (refresh_token)``: what the requests were, never their content."""
    return (
        ", ".join(
            f"{r.get('endpoint')}" + (f" ({r['grant_type']})" if r.get("grant_type") else "")
            for r in requests
        )
        or "none"
    )


def _restart_pair(info: dict, admin, first: str, second: str) -> tuple[int, str]:
    """Run `first` then, after clearing the log, `second` with the same HOME; the second's
    identity requests (count, description)."""
    home = S.bench_tmpdir("home")
    env = S.child_env(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "IPYTHONDIR": str(home / ".ipython"),
            "NBAUTH_BENCH_ADMIN_URL": info["admin_url"],
        }
    )
    record = str(home / "record.json")
    S.fast_device_codes(admin)
    _run_child(first, env, record)
    admin.clear_requests()
    _run_child(second, env, record)
    requests = S.identity_requests(admin)
    return len(requests), _describe(requests)


def nbauth_restarted_kernel(info: dict, admin) -> tuple[int | None, str]:
    try:
        count, what = _restart_pair(info, admin, _NB_KERNEL, _NB_KERNEL)
    except RuntimeError as exc:
        return None, f"{ERROR}: {exc}"
    return count, f"%azlogin --persist --allow-unencrypted in both kernels; restarted: {what}"


def azure_identity_restarted_kernel(info: dict, admin) -> tuple[int | None, str]:
    try:
        count, what = _restart_pair(info, admin, _AI_FIRST, _AI_SECOND)
    except RuntimeError as exc:
        return None, f"{ERROR}: {exc}"
    return count, f"TokenCachePersistenceOptions + saved AuthenticationRecord; restarted: {what}"


def _fmt(value: int | None, note: str = "") -> str:
    """A count, or why there is none, short enough for a table cell."""
    if value is not None:
        return str(value)
    return ERROR if note.startswith(ERROR) else "n/a"


def measure(bench: S.Bench) -> Row:
    row = Row(
        "request-counts",
        "identity requests: first sign-in until the code shows / 2nd resource / 2nd sign-in "
        "in the kernel / restarted kernel with a persisted cache",
        "azure-identity DeviceCodeCredential",
        "<= 2 / 1 / 0 / <= 1",
    )
    nb = nbauth_counts(bench.info, bench.admin)
    ai = azure_identity_counts(bench.info, bench.admin)
    bench.admin.reset()
    row.data = {"nbauth": vars(nb), "azure_identity": vars(ai), "targets": TARGETS}
    values = [nb.first_sign_in_until_code, nb.second_resource, nb.second_sign_in]
    row.nbauth = (
        " / ".join(map(str, values)) + " / " + _fmt(nb.restarted_kernel, nb.restarted_kernel_note)
    )
    row.baseline = " / ".join(
        _fmt(v, ai.restarted_kernel_note)
        for v in (
            ai.first_sign_in_until_code,
            ai.second_resource,
            ai.second_sign_in,
            ai.restarted_kernel,
        )
    )
    measured_ok = (
        nb.first_sign_in_until_code is not None
        and nb.first_sign_in_until_code <= TARGETS["first_sign_in_until_code"]
        and nb.second_resource == TARGETS["second_resource"]
        and nb.second_sign_in == TARGETS["second_sign_in"]
    )
    if nb.restarted_kernel is not None:
        row.status = verdict(measured_ok and nb.restarted_kernel <= TARGETS["restarted_kernel"])
    else:  # the restarted kernel failed, its note says how: never a pass
        row.status = ERROR if measured_ok else verdict(False)
    row.notes.append(f"nbauth restarted kernel: {nb.restarted_kernel_note}")
    row.notes.append(f"azure-identity restarted kernel: {ai.restarted_kernel_note}")
    row.notes.append(
        "azure-identity's 2nd sign-in re-runs the cell (a new DeviceCodeCredential: a whole "
        "device flow); the same credential object asked again makes 0 requests"
    )
    return row
