"""The benchmark's world: an emulator on loopback, a guard that keeps every connection there,
and sign-in helpers for nbauth, azure-identity and msal against that emulator.

The emulator runs as a child process (its CLI), not in this process: a server thread here would
share the GIL with the code being timed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ALICE = "alice@contoso.example"
CONTOSO_DOMAIN = "contoso.example"
ARM_SCOPE = "https://management.azure.com//.default"  # as nbauth and the Azure CLI ask for it
STORAGE_SCOPE = "https://storage.azure.com/.default"
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
EXTRA_USERS = 1000
"""Seeded on top of the default directory, for accounts-scaling (1000 accounts cached)."""


def extra_username(i: int) -> str:
    return f"bench{i:04d}@{CONTOSO_DOMAIN}"


def bench_seed(extra_users: int = EXTRA_USERS) -> dict:
    """The emulator's default directory plus `extra_users` plain users in Contoso."""
    seed = json.loads(
        resources.files("nbauth.emulator").joinpath("default_seed.json").read_text("utf-8")
    )
    seed["users"] += [
        {
            "username": extra_username(i),
            "password": f"bench-{i}-Passw0rd",
            "display_name": f"Bench user {i}",
            "tenant": CONTOSO_DOMAIN,
        }
        for i in range(extra_users)
    ]
    return seed


# -- nothing beyond loopback ------------------------------------------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}


def is_loopback(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


_guard_installed = False


def install_loopback_guard() -> None:
    """Refuse, in this process, any DNS lookup or connection that is not to loopback.

    A standard-library audit hook (PEP 578): it sees every ``socket.connect`` and
    ``socket.getaddrinfo`` whatever library makes it, so a misconfigured credential (say,
    instance discovery against login.microsoftonline.com, or managed identity's 169.254.169.254
    probe) fails here instead of leaving the machine. It cannot be removed; install it only in
    processes that exist to benchmark.
    """
    global _guard_installed
    if _guard_installed:
        return

    def hook(event: str, args: tuple) -> None:
        if event == "socket.getaddrinfo":
            if not is_loopback(args[0]):
                raise OSError(
                    f"nbauth benchmark: refused a DNS lookup of {args[0]!r} (loopback only)"
                )
        elif event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not is_loopback(address[0]):
                raise OSError(
                    f"nbauth benchmark: refused a connection to {address[0]!r} (loopback only)"
                )

    sys.addaudithook(hook)
    _guard_installed = True


GUARD_SOURCE = (
    "import sys, ipaddress\n"
    "def _lb(h):\n"
    "    if h is None: return True\n"
    "    if isinstance(h, bytes): h = h.decode('ascii', 'replace')\n"
    "    if not isinstance(h, str): return False\n"
    "    if h.lower() in ('localhost', 'localhost.', 'ip6-localhost'): return True\n"
    "    try: return ipaddress.ip_address(h.split('%', 1)[0]).is_loopback\n"
    "    except ValueError: return False\n"
    "def _hook(ev, args):\n"
    "    if ev == 'socket.getaddrinfo' and not _lb(args[0]):\n"
    "        raise OSError('benchmark guard: refused DNS lookup of %r' % (args[0],))\n"
    "    if ev == 'socket.connect' and isinstance(args[1], tuple) and not _lb(args[1][0]):\n"
    "        raise OSError('benchmark guard: refused connection to %r' % (args[1][0],))\n"
    "sys.addaudithook(_hook)\n"
)
"""The same guard for a child process: prepend to its ``-c`` source."""


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then released; good enough for a probe)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolate_user_state() -> None:
    """Keep the benchmark out of the user's own state: IPython's profile and history go to a
    temporary directory, and nbauth's persistence settings from the environment are dropped (a
    developer's ``NBAUTH_PERSIST=read_write`` must not put emulator tokens in their cache; the
    restarted-kernel measurement asks for persistence itself, in a temporary HOME)."""
    os.environ["IPYTHONDIR"] = str(bench_tmpdir("ipython"))
    for name in ("NBAUTH_PERSIST", "NBAUTH_PERSIST_ALLOW_UNENCRYPTED", "NBAUTH_CACHE_DIR"):
        os.environ.pop(name, None)


# -- the emulator -----------------------------------------------------------------------------


@dataclass
class BenchEmulator:
    info: dict[str, Any]
    process: subprocess.Popen
    workdir: Path
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    @property
    def admin(self):
        from nbauth.emulator import EmulatorAdmin

        return EmulatorAdmin(self.info["admin_url"])

    def stop(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def start_emulator(
    workdir: Path, extra_users: int = EXTRA_USERS, timeout: float = 60
) -> BenchEmulator:
    """Start ``python -m nbauth.emulator`` with the bench seed; export its ``env`` here."""
    workdir.mkdir(parents=True, exist_ok=True)
    seed_file, ready, log = workdir / "seed.json", workdir / "ready.json", workdir / "emulator.log"
    seed_file.write_text(json.dumps(bench_seed(extra_users)), encoding="utf-8")
    ready.unlink(missing_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nbauth.emulator",
                "--seed",
                str(seed_file),
                "--ready-file",
                str(ready),
                "--state-dir",
                str(workdir / "state"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=ROOT,
        )
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with {proc.returncode}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(
                f"the emulator wrote no ready file in {timeout:.0f} s:\n{log.read_text()}"
            )
        time.sleep(0.05)
    info = json.loads(ready.read_text())
    emu = BenchEmulator(info=info, process=proc, workdir=workdir)
    emu._saved_env = {k: os.environ.get(k) for k in info["env"]}
    os.environ.update(info["env"])
    return emu


# -- what the emulator saw --------------------------------------------------------------------


def identity_requests(admin) -> list[dict]:
    """Every request the identity endpoint served since the log was last cleared."""
    return [r for r in admin.requests() if r.get("server") == "identity"]


def token_requests(admin, grant_type: str | None = None) -> list[dict]:
    return [
        r
        for r in identity_requests(admin)
        if r.get("endpoint") == "token"
        and (grant_type is None or r.get("grant_type") == grant_type)
    ]


def fast_device_codes(admin) -> None:
    """Reset the emulator and poll device codes every second (its minimum) so sign-ins are quick."""
    admin.reset()
    admin.settings(device_code_interval_s=1)


# -- signing in -------------------------------------------------------------------------------


def nbauth_session(**kwargs):
    from nbauth._session import Session

    return Session(**kwargs)


def approve_in_prompt(admin, username: str = ALICE):
    """A prompt callback that approves the code it is shown, as `username` would on the page."""

    def prompt(p) -> None:
        admin.approve(username, p.user_code)

    return prompt


def nbauth_sign_in(session, admin, username: str = ALICE, **kwargs):
    """A real device-code sign-in through nbauth, approved as soon as the code is shown."""
    return session.login(prompt=approve_in_prompt(admin, username), wait=True, **kwargs)


def azure_identity_device_code(admin, username: str = ALICE, **kwargs):
    """azure-identity's DeviceCodeCredential pointed at the emulator, approving its prompt."""
    from azure.identity import DeviceCodeCredential

    def prompt_callback(verification_uri: str, user_code: str, expires_on: Any) -> None:
        admin.approve(username, user_code)

    kwargs.setdefault("prompt_callback", prompt_callback)
    return DeviceCodeCredential(
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
        **kwargs,
    )


def azure_identity_client_secret(info: dict):
    from azure.identity import ClientSecretCredential

    sp = info["service_principal"]
    return ClientSecretCredential(
        sp["tenant_id"], sp["client_id"], sp["client_secret"], disable_instance_discovery=True
    )


def msal_app(info: dict, tenant: str = "organizations", **kwargs):
    """A plain msal PublicClientApplication against the emulator, as msal's docs build one."""
    import msal

    return msal.PublicClientApplication(
        AZURE_CLI_CLIENT_ID,
        authority=f"{info['authority_host']}/{tenant}",
        instance_discovery=False,
        **kwargs,
    )


def msal_device_sign_in(app, admin, username: str = ALICE, scopes=(ARM_SCOPE,)) -> dict:
    flow = app.initiate_device_flow(scopes=list(scopes))
    if "user_code" not in flow:
        raise RuntimeError(f"msal could not start a device flow: {flow.get('error')}")
    admin.approve(username, user_code=flow["user_code"])
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise RuntimeError(f"msal device flow failed: {result.get('error')}")
    return result


# -- helpers ----------------------------------------------------------------------------------


@contextmanager
def temporary_env(**changes: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_tmpdirs: list[Path] = []


def bench_tmpdir(prefix: str) -> Path:
    """A new temporary directory, removed by `remove_tmpdirs`."""
    path = Path(tempfile.mkdtemp(prefix=f"nbauth-bench-{prefix}-"))
    _tmpdirs.append(path)
    return path


def remove_tmpdirs() -> None:
    while _tmpdirs:
        shutil.rmtree(_tmpdirs.pop(), ignore_errors=True)


def start_thread(target, *args, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class Bench:
    """What every measurement gets: the running emulator's info and admin client, and the run's
    size."""

    info: dict[str, Any]
    admin: Any
    quick: bool = False
    """Fewer calls and repetitions (a smoke run); numbers are then only indicative."""

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full
