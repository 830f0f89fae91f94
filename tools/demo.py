"""`make demo`: the emulator, Azurite and JupyterLab on the quickstart, with no Azure account.

Starts every service with the emulator's environment, prints the URL and the demo users, and on
Ctrl-C stops every process it started. Options: --auto-approve USER (no page visit needed),
--port N (JupyterLab), --no-lab (services only, e.g. to point your own Jupyter at them).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.services import DEMO_CONTAINER, ROOT, seed_storage, start  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--auto-approve", metavar="USER", help="approve every device code as USER")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    parser.add_argument("--no-lab", action="store_true", help="start the services only")
    args = parser.parse_args(argv)

    workdir = ROOT / ".demo"
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
        print(f"  storage (Azurite): {services.blob_url}  container '{DEMO_CONTAINER}'")
        if not args.no_lab:
            lab_env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(workdir / "jupyter-config")}
            lab = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                 f"--port={args.port}", f"--IdentityProvider.token={token}",
                 f"--ServerApp.root_dir={ROOT / 'notebooks'}", "--ServerApp.log_level=WARN",
                 *(["--allow-root"] if os.geteuid() == 0 else [])],
                env=lab_env,
                start_new_session=True,  # Ctrl-C reaches only us; we stop Lab without its y/n prompt
            )
            print(f"\n  JupyterLab: http://127.0.0.1:{args.port}/lab/tree/quickstart.ipynb?token={token}")
        print("\nPress Ctrl-C to stop everything.\n", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        while True:
            if lab is not None and lab.poll() is not None:
                print(f"JupyterLab exited with code {lab.returncode}")
                return lab.returncode or 1
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
