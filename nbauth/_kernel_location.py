"""Whether a browser opened by this kernel would run where the person is sitting.

The browser sign-in listens on ``http://localhost:<port>`` in the kernel's process and opens the
sign-in page with the kernel machine's browser. Both only work when the kernel runs on the
person's own machine. On JupyterHub, Binder, Codespaces, SSH, WSL or Azure ML compute the
browser (if any) and the redirect target are on another machine, and the sign-in would hang;
`detect` says so, with a reason a person can act on, so the caller can use device code instead.

``NBAUTH_KERNEL_LOCATION=local`` (or ``remote``) overrides the guess, e.g. for an SSH session
whose ports are forwarded by VS Code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KernelLocation", "detect", "is_wsl"]

OVERRIDE_VARIABLE = "NBAUTH_KERNEL_LOCATION"


@dataclass(frozen=True)
class KernelLocation:
    local: bool
    """True when a browser opened by the kernel appears in front of the person."""
    reason: str
    """Why, in words: ``"JupyterHub (JUPYTERHUB_API_URL is set)"``, ``"this machine"``..."""
    kind: str = "local"
    """What was found: ``local``, ``override``, ``jupyterhub``, ``binder``, ``codespaces``,
    ``ssh``, ``azureml``, ``wsl`` or ``no-display``. (The Windows broker still works on WSL.)"""

    def __str__(self) -> str:
        return f"{'local' if self.local else 'remote'}: {self.reason}"


def _first_set(environ: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if environ.get(name)), None)


def _first_with_prefix(environ: Mapping[str, str], prefix: str) -> str | None:
    return next(
        (name for name in sorted(environ) if name.startswith(prefix) and environ[name]), None
    )


def _read_proc_version() -> str:
    try:
        with open("/proc/version", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def is_wsl(proc_version: str | None = None) -> bool:
    """Whether this Linux runs under WSL (its kernel's version names Microsoft)."""
    if proc_version is None:
        if not sys.platform.startswith("linux"):
            return False
        proc_version = _read_proc_version()
    return "microsoft" in proc_version.lower()


# Hosted notebook services, checked in order: (what to call it, variables that give it away).
_HOSTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "jupyterhub",
        "JupyterHub",
        ("JUPYTERHUB_API_URL", "JUPYTERHUB_USER", "JUPYTERHUB_SERVICE_PREFIX"),
    ),
    (
        "binder",
        "Binder",
        ("BINDER_SERVICE_HOST", "BINDER_REPO_URL", "BINDER_LAUNCH_HOST", "BINDER_REF_URL"),
    ),
    ("codespaces", "GitHub Codespaces", ("CODESPACES", "CODESPACE_NAME")),
    ("ssh", "an SSH session", ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")),
)
# Azure ML compute instances set CI_* names (generic CI systems set CI_* too, so ask for the
# ones only Azure ML sets together) and AZUREML_* in jobs and on compute instances.
_AZUREML_CI = ("CI_NAME", "CI_WORKSPACE", "CI_RESOURCE_GROUP")


def detect(
    environ: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    proc_version: str | None = None,
) -> KernelLocation:
    """Where this kernel runs, as far as its environment tells.

    ``environ`` (default ``os.environ``), ``platform`` (default ``sys.platform``) and
    ``proc_version`` (default: the text of ``/proc/version`` on Linux) are parameters so that
    tests can describe a machine instead of being one.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform

    override = (env.get(OVERRIDE_VARIABLE) or "").strip().lower()
    if override in ("local", "remote"):
        return KernelLocation(override == "local", f"{OVERRIDE_VARIABLE}={override}", "override")

    for kind, where, names in _HOSTED:
        found = _first_set(env, names)
        if found:
            return KernelLocation(False, f"{where} ({found} is set)", kind)
    azureml = _first_with_prefix(env, "AZUREML_")
    if azureml is None and all(env.get(name) for name in _AZUREML_CI[:2]):
        azureml = _AZUREML_CI[0]
    if azureml:
        return KernelLocation(
            False, f"Azure Machine Learning compute ({azureml} is set)", "azureml"
        )

    if plat.startswith("linux"):
        version = _read_proc_version() if proc_version is None else proc_version
        if is_wsl(version):
            return KernelLocation(
                False, "WSL (the browser runs on Windows, outside this Linux kernel)", "wsl"
            )
        if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
            return KernelLocation(
                False,
                "a Linux machine without a graphical display (DISPLAY is not set)",
                "no-display",
            )
    return KernelLocation(True, "this machine")
