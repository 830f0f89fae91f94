"""Start the local stand-ins for Azure that the tests, `make demo` and Binder use.

- the nbauth emulator (Entra ID + an ARM subset), through its real command line, and
- Azurite (Azure Storage) over HTTPS with a certificate from the emulator's CA, accepting the
  emulator's tokens (`--oauth basic`).

Both run as child processes; `Services.stop()` (or leaving the `with` block) ends them.
`Services.env` (and `notebook_env` for a test's own emulator) is what a kernel needs to run the
tutorials against them; the tutorials treat `NBAUTH_EMULATOR_ADMIN_URL` as "emulator here".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (documented by Microsoft for the emulator, not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEMO_CONTAINER = "demo"

EMULATOR_FLAG = "NBAUTH_EMULATOR_ADMIN_URL"
"""Set only when a kernel runs against the emulator: the tutorials guard admin calls with it."""


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
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
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
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT if quiet else None, start_new_session=True
    )
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
    proc = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT if quiet else None, env=env, start_new_session=True
    )
    try:
        _wait_for(lambda: _port_open(port), "Azurite", proc, 60, log)
    except BaseException:
        proc.kill()
        raise
    return proc, f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


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

    services = start(workdir=args.workdir, azurite=not args.no_azurite, auto_approve=args.auto_approve)
    if services.blob_url:
        seed_storage(services.blob_url, services.env)
    stop = False

    def request_stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(services.env.items())]
        tmp = Path(args.env_file + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(args.env_file)
        while not stop and all(p.poll() is None for p in services.procs):
            time.sleep(0.5)
    finally:
        services.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(_main())
