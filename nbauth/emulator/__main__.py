"""``nbauth-emulator`` / ``python -m nbauth.emulator``: run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from ._emulator import Emulator
from ._seed import SeedError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nbauth-emulator",
        description="A local Microsoft Entra ID + Azure Resource Manager emulator on 127.0.0.1, "
        "for testing notebooks that sign in. Runs until interrupted.",
    )
    p.add_argument(
        "--seed",
        metavar="FILE",
        help="JSON directory to serve (default: built-in Contoso/Fabrikam seed)",
    )
    p.add_argument(
        "--auto-approve", metavar="USERNAME", help="approve every device code as this user"
    )
    p.add_argument(
        "--auto-approve-delay",
        metavar="S",
        type=float,
        default=1.0,
        help="seconds before an auto-approval (default 1)",
    )
    p.add_argument(
        "--ready-file", metavar="PATH", help="write the connection info here (JSON) once listening"
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep the CA and certificates here (reused across runs); default: a temp dir",
    )
    p.add_argument(
        "--port", type=int, default=0, help="identity platform HTTPS port (default: free port)"
    )
    p.add_argument("--arm-port", type=int, default=0, help="ARM HTTPS port (default: free port)")
    p.add_argument(
        "--http-port",
        type=int,
        default=0,
        help="sign-in page and admin API HTTP port (default: free port)",
    )
    return p


def _summary(info: dict) -> str:
    lines = [
        "nbauth emulator running (Ctrl+C to stop)",
        f"  identity platform  {info['authority_host']}",
        f"  ARM                {info['arm_endpoint']}",
        f"  Key Vault          {info['key_vault']['url']}  (secrets only)",
        f"  sign-in page       {info['device_login_url']}",
        f"  admin API          {info['admin_url']}",
        f"  CA bundle          {info['ca_bundle']}",
        "  users              " + ", ".join(info["users"]),
        "  tenants            "
        + ", ".join(f"{t['domain']} ({t['tenant_id']})" for t in info["tenants"]),
        "Point a new process at it with these variables:",
    ]
    lines += [f"  export {k}={v}" for k, v in info["env"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        emulator = Emulator(
            seed=args.seed,
            auto_approve=args.auto_approve,
            auto_approve_delay_s=args.auto_approve_delay,
            state_dir=args.state_dir,
            port=args.port,
            arm_port=args.arm_port,
            http_port=args.http_port,
        )
        emulator.start()
    except (SeedError, ValueError, OSError, RuntimeError) as exc:
        print(f"nbauth-emulator: {exc}", file=sys.stderr)
        return 2
    try:
        if args.ready_file:
            emulator.write_ready_file(args.ready_file)
        print(_summary(emulator.info), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("nbauth emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
