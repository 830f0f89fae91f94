"""`make demo`: the emulator, Azurite and JupyterLab on the tutorials, with no Azure account.

Starts every service, then JupyterLab on the quickstart with the services' environment (so the
tutorials' `if EMULATOR:` steps run), prints the URL once JupyterLab answers it, the sign-in page
and the demo users. However it ends (Ctrl-C, SIGTERM, SIGHUP, an error, even during start-up) it
stops every process it started. JupyterLab works on copies of the tutorials in
`.demo/notebooks/`, so running them never leaves outputs in the committed notebooks.

Options: --auto-approve USER (no page visit needed), --port N (JupyterLab; 0 for a free one),
--workdir DIR (instead of .demo), --no-lab (services only, e.g. to point your own Jupyter at
them: their variables are printed), --block-device-code 1|TENANT,... (`make demo
BLOCK_DEVICE_CODE=1`: the emulator's Conditional Access refuses device code in every tenant, or
in those; the start-up text says how to sign in then).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.services import (  # noqa: E402
    DEMO_CONTAINER,
    ROOT,
    Stopped,
    free_port,
    seed_storage,
    spawn,
    start,
    stop_children,
    stop_on_signals,
)

QUICKSTART = "01-quickstart.ipynb"
LAB_SETTINGS = Path(__file__).with_name("jupyterlab_settings.json")
"""Setting defaults for the demo's JupyterLab (and Binder's): no news pop-up over the card."""
LAB_TIMEOUT_S = 120.0


def tutorial_copies(workdir: Path) -> Path:
    """Copies of notebooks/*.ipynb in `workdir`/notebooks; a copy is replaced only when the
    repository's notebook is newer, so what you change in the demo survives a restart."""
    target = workdir / "notebooks"
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        copy = target / notebook.name
        if not copy.exists() or copy.stat().st_mtime < notebook.stat().st_mtime:
            shutil.copy2(notebook, copy)  # keeps the mtime: later edits make the copy newer
    return target


def _title(notebook: Path) -> str:
    import json

    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            first = "".join(cell.get("source", "")).strip().splitlines()
            if first:
                return first[0].lstrip("# ").strip()
    return notebook.stem


class DemoError(Exception):
    """Start-up failed in a way the message explains; no traceback needed."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--auto-approve", metavar="USER", help="approve every device code as USER")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (0: a free one)")
    parser.add_argument("--no-lab", action="store_true", help="start the services only")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".demo",
                        help="notebook copies, logs and Jupyter's config (default .demo)")
    parser.add_argument("--block-device-code", metavar="1|TENANT,...", type=_blocked_tenants,
                        help="Conditional Access refuses the device-code flow in every tenant "
                        "(1) or in these tenant ids / domains; 0: in none")
    return parser.parse_args(argv)


def _blocked_tenants(value: str) -> list[str] | None:
    """The emulator's `--block-device-code` arguments: None (no block), [] (every tenant) or
    the tenants named."""
    if value.strip().lower() in ("", "0", "false", "no", "off"):
        return None
    if value.strip().lower() in ("1", "true", "yes", "on", "all"):
        return []
    return [tenant.strip() for tenant in value.split(",") if tenant.strip()]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    stop_on_signals()  # before the first child: a signal's default action would orphan them
    try:
        return _run(args)
    except (Stopped, KeyboardInterrupt):
        print("\nStopping the demo...", flush=True)
        return 0
    except DemoError as exc:
        print(f"\n{exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_children()


def _run(args: argparse.Namespace) -> int:
    workdir = args.workdir.resolve()
    print("Starting the nbauth emulator and Azurite...", flush=True)
    blocked = args.block_device_code
    extra = None if blocked is None else ["--block-device-code", *blocked]
    services = start(workdir=workdir, azurite=True, auto_approve=args.auto_approve, extra_args=extra)
    env = services.env
    seed_storage(services.blob_url, env)
    info = services.info
    print("\nnbauth demo: everything runs on this machine, no Azure account needed.\n")
    print(f"  sign-in page (like microsoft.com/devicelogin): {info['device_login_url']}")
    print(f"  demo users: {', '.join(info['users'])}  (the sign-in page asks only which one you are)")
    if args.auto_approve:
        print(f"  every sign-in is approved as {args.auto_approve} (--auto-approve)")
    _print_device_code_block(info.get("block_device_code"))
    print(f"  storage (Azurite): {services.blob_url}  container '{DEMO_CONTAINER}'")
    print(f"  Key Vault: {info['key_vault']['url']}")
    lab = None
    if args.no_lab:
        print("\nPoint your own Jupyter at them with these variables:")
        for name, value in sorted(env.items()):
            print(f"  export {name}={shlex.quote(value)}")
    else:
        notebooks = tutorial_copies(workdir)
        port = args.port or free_port()
        lab, url = start_lab(workdir, notebooks, port, env)
        print(f"\n  JupyterLab: {url}")
        print(f"\n  tutorials (copies in {_shown(notebooks)}/, the repository's stay clean):")
        for notebook in sorted(notebooks.glob("0*.ipynb")):
            print(f"    {notebook.name:<38} {_title(notebook)}")
    print("\nPress Ctrl-C to stop everything.\n", flush=True)
    while True:
        if lab is not None and lab.poll() is not None:
            print(f"JupyterLab exited with code {lab.returncode}")
            return lab.returncode or 1
        if any(proc.poll() is not None for proc in services.procs):
            print(f"A service stopped; see the logs in {_shown(workdir)}/")
            return 1
        time.sleep(0.5)


def _print_device_code_block(blocked: bool | list[str] | None) -> None:
    """Say so when the emulator refuses device code (BLOCK_DEVICE_CODE, its environment variable
    or the seed), and how a person signs in then."""
    if not blocked:
        return
    where = "every tenant" if blocked is True else ", ".join(blocked)
    print(f"  device code: BLOCKED by Conditional Access in {where}; the sign-in page refuses it "
          "with error 53003 (AADSTS53003), as Entra does")
    print("    sign in with `%azlogin --method browser`, or plain `%azlogin`: after the refusal the "
          "card switches to the browser sign-in.")
    print("    Click 'Open sign-in page', pick a user; on a remote kernel, paste the address the "
          "browser ends on (http://localhost:...) into the card.")
    print("    The whole story: 04-sign-in-methods.ipynb, 'When your organization blocks device code'.")


def start_lab(
    workdir: Path, notebooks: Path, port: int, env: dict[str, str]
) -> tuple[subprocess.Popen, str]:
    """JupyterLab on the notebook copies; returns once its URL answers, so it opens at once."""
    config_dir = workdir / "jupyter-config"
    write_lab_settings(config_dir)
    token = secrets.token_urlsafe(16)
    lab = spawn(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         # port_retries=0: on another port, the URL printed would not be JupyterLab's
         f"--port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={notebooks}", "--ServerApp.log_level=WARN",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env={**os.environ, **env, "JUPYTER_CONFIG_DIR": str(config_dir)},
    )
    url = f"http://127.0.0.1:{port}/lab/tree/{QUICKSTART}?token={token}"
    wait_until_answers(url, lab, what="JupyterLab")
    return lab, url


def write_lab_settings(config_dir: Path) -> None:
    """JupyterLab's defaults for the demo: `labconfig/default_setting_overrides.json` in the
    demo's own JUPYTER_CONFIG_DIR, so the person's own settings are neither read nor changed."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LAB_SETTINGS, labconfig / "default_setting_overrides.json")


def wait_until_answers(
    url: str, proc: subprocess.Popen, *, what: str, timeout: float = LAB_TIMEOUT_S
) -> None:
    """Poll `url` until it answers 200; DemoError if `proc` exits first or `timeout` passes."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise DemoError(f"{what} exited with code {proc.returncode} before it answered; "
                            "its messages are above.")
        try:
            with opener.open(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):
            pass  # not listening yet, or still starting
        if time.monotonic() > deadline:
            raise DemoError(f"{what} did not answer on {url.split('?')[0]} within {timeout:.0f} s; "
                            "its messages are above.")
        time.sleep(0.2)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
