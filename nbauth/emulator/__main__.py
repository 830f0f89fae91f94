"""``nbauth-emulator`` / ``python -m nbauth.emulator``: run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from ._emulator import Emulator
from ._seed import SeedError

BLOCK_DEVICE_CODE_ENV = "NBAUTH_EMULATOR_BLOCK_DEVICE_CODE"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


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
        "--block-device-code",
        metavar="TENANT",
        nargs="*",
        help="Conditional Access refuses the device-code flow (AADSTS53003) in every tenant, or "
        f"in these tenant ids / domains (default: the seed's choice; also {BLOCK_DEVICE_CODE_ENV}"
        "=1 or =tenant,tenant)",
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


def _block_device_code(flag: list[str] | None) -> bool | list[str] | None:
    """The flag (no tenant: all of them), else the environment variable, else None (the seed)."""
    if flag is not None:
        return flag or True
    value = os.environ.get(BLOCK_DEVICE_CODE_ENV)
    if value is None:
        return None
    if value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return [t.strip() for t in value.split(",") if t.strip()]


def _summary(info: dict[str, Any]) -> str:
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
    ]
    blocked = info.get("block_device_code")
    if blocked:
        where = "every tenant" if blocked is True else ", ".join(blocked)
        lines.append(f"  device code        blocked by Conditional Access in {where}")
    lines.append("Point a new process at it with these variables:")
    lines += [f"  export {k}={v}" for k, v in info["env"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 - handler signature
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
            block_device_code=_block_device_code(args.block_device_code),
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
