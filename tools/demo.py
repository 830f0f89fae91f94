"""`make demo`: the emulator, Azurite and JupyterLab on the tutorials, with no Azure account.

Starts every service, then JupyterLab on the quickstart with the services' environment (so the
tutorials' `if EMULATOR:` steps run), prints the URL, the sign-in page and the demo users, and on
Ctrl-C stops every process it started. JupyterLab works on copies of the tutorials in
`.demo/notebooks/`, so running them never leaves outputs in the committed notebooks.

Options: --auto-approve USER (no page visit needed), --port N (JupyterLab), --no-lab (services
only, e.g. to point your own Jupyter at them: their variables are printed).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.services import DEMO_CONTAINER, ROOT, seed_storage, start  # noqa: E402

QUICKSTART = "01-quickstart.ipynb"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--auto-approve", metavar="USER", help="approve every device code as USER")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    parser.add_argument("--no-lab", action="store_true", help="start the services only")
    args = parser.parse_args(argv)

    workdir = ROOT / ".demo"
    print("Starting the nbauth emulator and Azurite...", flush=True)
    services = start(workdir=workdir, azurite=True, auto_approve=args.auto_approve)
    lab = None
    try:
        env = services.env
        seed_storage(services.blob_url, env)
        info = services.info
        token = secrets.token_urlsafe(16)
        print("\nnbauth demo: everything runs on this machine, no Azure account needed.\n")
        print(f"  sign-in page (like microsoft.com/devicelogin): {info['device_login_url']}")
        print(f"  demo users: {', '.join(info['users'])}  (the sign-in page asks only which one you are)")
        if args.auto_approve:
            print(f"  every sign-in is approved as {args.auto_approve} (--auto-approve)")
        print(f"  storage (Azurite): {services.blob_url}  container '{DEMO_CONTAINER}'")
        print(f"  Key Vault: {info['key_vault']['url']}")
        if args.no_lab:
            print("\nPoint your own Jupyter at them with these variables:")
            for name, value in sorted(env.items()):
                print(f"  export {name}={shlex.quote(value)}")
        else:
            notebooks = tutorial_copies(workdir)
            lab_env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(workdir / "jupyter-config")}
            lab = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                 f"--port={args.port}", f"--IdentityProvider.token={token}",
                 f"--ServerApp.root_dir={notebooks}", "--ServerApp.log_level=WARN",
                 *(["--allow-root"] if os.geteuid() == 0 else [])],
                env=lab_env,
                start_new_session=True,  # Ctrl-C reaches only us; we stop Lab without its y/n prompt
            )
            print(f"\n  JupyterLab: http://127.0.0.1:{args.port}/lab/tree/{QUICKSTART}?token={token}")
            print(f"\n  tutorials (copies in {notebooks.relative_to(ROOT)}/, the repository's stay clean):")
            for notebook in sorted(notebooks.glob("0*.ipynb")):
                print(f"    {notebook.name:<38} {_title(notebook)}")
        print("\nPress Ctrl-C to stop everything.\n", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        while True:
            if lab is not None and lab.poll() is not None:
                print(f"JupyterLab exited with code {lab.returncode}")
                return lab.returncode or 1
            if any(proc.poll() is not None for proc in services.procs):
                print(f"A service stopped; see the logs in {workdir.relative_to(ROOT)}/")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the demo...")
        return 0
    finally:
        if lab is not None and lab.poll() is None:
            lab.terminate()
            try:
                lab.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.kill()
        services.stop()


if __name__ == "__main__":
    raise SystemExit(main())
