"""Start the local stand-ins for Azure that the tests, `make demo` and Binder use.

- the nbauth emulator (Entra ID + an ARM subset), through its real command line, and
- Azurite (Azure Storage) over HTTPS with a certificate from the emulator's CA, accepting the
  emulator's tokens (`--oauth basic`).

Both run as child processes, each leading its own process group; `Services.stop()` (or leaving
the `with` block) ends them, and `stop_children()` ends every child this program started.
`stop_on_signals()` makes SIGTERM, SIGINT and SIGHUP end a program that starts them cleanly.
`Services.env` (and `notebook_env` for a test's own emulator) is what a kernel needs to run the
tutorials against them; the tutorials treat `NBAUTH_EMULATOR_ADMIN_URL` as "emulator here".
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (documented by Microsoft for the emulator, not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEMO_CONTAINER = "demo"

EMULATOR_FLAG = "NBAUTH_EMULATOR_ADMIN_URL"
"""Set only when a kernel runs against the emulator: the tutorials guard admin calls with it."""


class Stopped(BaseException):
    """A signal asked this program to end; raised in the main thread so every `finally` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


_children: list[subprocess.Popen] = []
_held = False  # True while a child is being started or the children are being stopped
_pending_signal: int | None = None


def _on_signal(signum: int, _frame: object) -> None:
    global _pending_signal
    if _held:  # raising now could lose a child between its fork and `_children.append`
        _pending_signal = signum
        return
    raise Stopped(signum)


def stop_on_signals() -> None:
    """Turn SIGTERM, SIGINT and SIGHUP into `Stopped`. Call it before starting any child: a
    signal's default action would end this process at once and leave the children running."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup (Binder) asked to ignore it
            signal.signal(signum, _on_signal)


def spawn(cmd: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start `cmd` in its own session (a Ctrl-C in the terminal reaches only us, and stopping
    its process group also stops what it started), recorded for `stop_children()`."""
    global _held
    _held = True
    try:
        proc = subprocess.Popen(cmd, start_new_session=True, **popen_kwargs)
        _children.append(proc)
    finally:
        _held = False
    _raise_pending_signal()
    return proc


def _raise_pending_signal() -> None:
    global _pending_signal
    if _pending_signal is not None:
        signum, _pending_signal = _pending_signal, None
        raise Stopped(signum)


def stop_processes(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM each process group, then SIGKILL the groups still there after `timeout`."""
    global _held
    held_before, _held = _held, True  # a second Ctrl-C must not leave a child half-stopped
    try:
        live = [proc for proc in reversed(procs) if proc.returncode is None]
        for proc in live:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
    finally:
        _held = held_before
    for proc in procs:
        if proc in _children:
            _children.remove(proc)


def stop_children(timeout: float = 10.0) -> None:
    """Stop every child `spawn` started; also runs at exit, whatever way this program ends."""
    stop_processes(list(_children), timeout)


atexit.register(stop_children)


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    # Only while the leader is not reaped: until then its pid, so its group id, cannot be reused.
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def azurite_executable() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise FileNotFoundError(
        "Azurite is not installed: run `make install` (it installs the npm package `azurite`)."
    )


def _wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float, log: Path | None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready.\n{detail}")
        time.sleep(0.05)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Services:
    """Running emulator (and optionally Azurite); `info` is the emulator's ready file."""

    workdir: Path
    info: dict = field(default_factory=dict)
    blob_url: str | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)
    tutorial_env: dict[str, str] = field(default_factory=dict)

    @property
    def ready_file(self) -> Path:
        return self.workdir / "emulator.json"

    @property
    def env(self) -> dict[str, str]:
        """Environment that points a process (a kernel running the tutorials) at these services."""
        env = {**self.info.get("env", {}), **self.tutorial_env}
        if self.blob_url:
            env["NBAUTH_DEMO_BLOB_URL"] = self.blob_url
            env["NBAUTH_DEMO_CONTAINER"] = DEMO_CONTAINER
        return env

    def stop(self) -> None:
        stop_processes(self.procs)
        self.procs.clear()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    *,
    workdir: str | Path | None = None,
    azurite: bool = True,
    auto_approve: str | None = None,
    seed: str | None = None,
    quiet: bool = True,
    extra_args: list[str] | None = None,
) -> Services:
    workdir = Path(workdir or tempfile.mkdtemp(prefix="nbauth-services-"))
    workdir.mkdir(parents=True, exist_ok=True)
    services = Services(workdir=workdir)
    try:
        _start_emulator(services, auto_approve=auto_approve, seed=seed, quiet=quiet, extra_args=extra_args)
        services.tutorial_env = notebook_env(
            services.info, ready_file=services.ready_file, cache_dir=workdir / "nbauth-cache"
        )
        if azurite:
            _start_azurite(services, quiet=quiet)
    except BaseException:
        services.stop()
        raise
    return services


def _start_emulator(services: Services, *, auto_approve, seed, quiet, extra_args) -> None:
    ready = services.ready_file
    ready.unlink(missing_ok=True)
    log = services.workdir / "emulator.log"
    cmd = [sys.executable, "-m", "nbauth.emulator", "--ready-file", str(ready),
           "--state-dir", str(services.workdir / "emulator-state")]
    if auto_approve:
        cmd += ["--auto-approve", auto_approve]
    if seed:
        cmd += ["--seed", seed]
    cmd += extra_args or []
    out = open(log, "wb") if quiet else None  # noqa: SIM115 - owned by the child process
    proc = spawn(cmd, stdout=out, stderr=subprocess.STDOUT if quiet else None)
    services.procs.append(proc)
    _wait_for(ready.exists, "the nbauth emulator", proc, 60, log)
    services.info = json.loads(ready.read_text())


def _start_azurite(services: Services, *, quiet: bool) -> None:
    proc, services.blob_url = start_azurite(services.info, services.workdir, quiet=quiet)
    services.procs.append(proc)


def start_azurite(info: dict, workdir: Path, *, quiet: bool = True) -> tuple[subprocess.Popen, str]:
    """Azurite's blob service over HTTPS, trusting the emulator's tokens; returns (process, url)."""
    port = free_port()
    log = Path(workdir) / "azurite.log"
    cmd = [
        azurite_executable(),
        "--blobHost", "127.0.0.1", "--blobPort", str(port),
        "--oauth", "basic",
        "--cert", info["server_cert"], "--key", info["server_key"],
        "--skipApiVersionCheck", "--disableTelemetry", "--inMemoryPersistence",
    ]
    if quiet:
        cmd.append("--silent")
    env = {**os.environ, **info.get("env", {})}
    out = open(log, "wb") if quiet else None  # noqa: SIM115 - owned by the child process
    proc = spawn(cmd, stdout=out, stderr=subprocess.STDOUT if quiet else None, env=env)
    try:
        _wait_for(lambda: _port_open(port), "Azurite", proc, 60, log)
    except BaseException:
        stop_processes([proc])
        raise
    return proc, f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


@contextmanager
def running_azurite(info: dict, workdir: Path, *, seeded: bool = False) -> Iterator[str]:
    """`start_azurite` for a ``with`` block (the tests' fixtures): its url, the demo data in
    it if ``seeded`` (`seed_storage`); stopped when the block ends, however it ends."""
    proc, url = start_azurite(info, workdir)
    try:
        if seeded:
            seed_storage(url, info.get("env", {}))
        yield url
    finally:
        stop_processes([proc])


def notebook_env(info: dict, *, ready_file: str | Path, cache_dir: str | Path) -> dict[str, str]:
    """The emulator's variables plus what the tutorials read when it is there.

    - ``NBAUTH_EMULATOR_ADMIN_URL``: the admin API; its presence means "running on the emulator".
    - ``NBAUTH_EMULATOR_INFO``: the ready file (service principal, managed identity endpoint, ...).
    - ``NBAUTH_DEMO_VAULT_URL``: the emulator's Key Vault.
    - ``NBAUTH_CACHE_DIR``: sign-ins saved with ``--persist`` stay out of ``~/.cache/nbauth``.
    - ``AZURE_POD_IDENTITY_AUTHORITY_HOST``: a loopback port where nothing answers (the
      emulator's own, else a free one), so the managed identity probe of ``auto`` never leaves
      the machine for 169.254.169.254 and fails at once.
    """
    env = dict(info.get("env", {}))
    env[EMULATOR_FLAG] = info["admin_url"]
    env["NBAUTH_EMULATOR_INFO"] = str(ready_file)
    if info.get("key_vault"):
        env["NBAUTH_DEMO_VAULT_URL"] = info["key_vault"]["url"]
    env["NBAUTH_CACHE_DIR"] = str(cache_dir)
    env.setdefault("AZURE_POD_IDENTITY_AUTHORITY_HOST", f"http://127.0.0.1:{free_port()}")
    return env


def seed_storage(blob_url: str, env: dict[str, str]) -> None:
    """Put a container and a blob in Azurite so the tutorials have something to list.

    Uses Azurite's shared key, not a token: the demo data exists before anyone signs in.
    """
    os.environ.update(env)  # trust the emulator's CA for this upload
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    key = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    service = BlobServiceClient(blob_url, credential=key)
    try:
        container = service.create_container(DEMO_CONTAINER)
    except ResourceExistsError:
        container = service.get_container_client(DEMO_CONTAINER)
    text = b"Hello from Azurite, read with an nbauth credential.\n"
    container.upload_blob("hello.txt", text, overwrite=True)


def _main(argv: list[str] | None = None) -> int:
    """Run the services until SIGTERM/SIGINT; write their environment as a shell file (Binder)."""
    import argparse
    import shlex

    parser = argparse.ArgumentParser(description="Start the nbauth emulator and Azurite.")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--env-file", required=True, help="write `export NAME=value` lines here")
    parser.add_argument("--auto-approve", metavar="USER")
    parser.add_argument("--no-azurite", action="store_true")
    args = parser.parse_args(argv)

    stop_on_signals()  # before the first child, so a SIGTERM during start-up stops it too
    try:
        services = start(
            workdir=args.workdir, azurite=not args.no_azurite, auto_approve=args.auto_approve
        )
        if services.blob_url:
            seed_storage(services.blob_url, services.env)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(services.env.items())]
        tmp = Path(args.env_file + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(args.env_file)
        while all(p.poll() is None for p in services.procs):
            time.sleep(0.5)
    except Stopped:
        pass
    finally:
        stop_children()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(_main())
