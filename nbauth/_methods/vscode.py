"""Reuse the Azure sign-in of Visual Studio Code, via azure-identity's
``VisualStudioCodeCredential``.

Since azure-identity 1.24 that credential reads the authentication record the VS Code "Azure
Resources" extension writes (``~/.azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json``)
and gets tokens silently through the Windows broker: it needs the ``azure-identity-broker``
package and Windows or WSL. `unavailable` checks all of that without network or imports, so an
unusable VS Code sign-in fails in milliseconds with what to install or do.

No options.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from .. import _kernel_location
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable
from .broker import PACKAGE, Unavailable, installed_version

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "AUTH_RECORD_PATHS", "METHOD", "start", "unavailable", "unavailable_on"]

METHOD = "vscode"
LABEL = "VS Code's Azure sign-in"
# Where the Azure Resources extension keeps its authentication record (as azure-identity reads).
AUTH_RECORD_PATHS = (
    "~/.azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json",
    "~/.Azure/ms-azuretools.vscode-azureresourcegroups/authRecord.json",
)
_SIGN_IN = (
    "In VS Code, install the 'Azure Resources' extension and run 'Azure: Sign In', then try again."
)


def _record_path(home: str | None) -> str | None:
    for path in AUTH_RECORD_PATHS:
        full = os.path.join(home, path[2:]) if home is not None else os.path.expanduser(path)
        if os.path.isfile(full):
            return full
    return None


def unavailable_on(
    *,
    platform: str | None = None,
    version: str | None | bool = True,
    home: str | None = None,
    proc_version: str | None = None,
) -> Unavailable | None:
    """Why VS Code's sign-in cannot be reused here, or None. No network, no imports.

    Keyword arguments describe another machine (tests): ``platform``, ``version`` (of
    azure-identity-broker; None: not installed; True: look it up), ``home`` (the home
    directory), ``proc_version`` (the text of /proc/version).
    """
    plat = sys.platform if platform is None else platform
    found = installed_version() if version is True else version
    # A described machine (platform given) is not WSL unless its proc_version says so.
    on_wsl = plat.startswith("linux") and _kernel_location.is_wsl(
        proc_version if proc_version is not None or platform is None else ""
    )
    if plat != "win32" and not on_wsl:
        return Unavailable(
            f"azure-identity reuses VS Code's sign-in only on Windows or WSL, not on {plat}",
            "Use --method azure_cli (after `az login`), browser or device_code.",
        )
    if not found:
        return Unavailable(
            f"the {PACKAGE} package is not installed (azure-identity needs it to reuse VS "
            f"Code's sign-in)",
            f"Install it with `pip install {PACKAGE}` and restart the kernel.",
        )
    if _record_path(home) is None:
        return Unavailable(
            f"VS Code has not signed in to Azure (no {AUTH_RECORD_PATHS[0]})", _SIGN_IN
        )
    return None


def unavailable(request: SignInRequest | None = None) -> MethodUnavailable | None:
    """Why this method cannot work in this kernel (see `unavailable_on`), or None."""
    missing = unavailable_on()
    return None if missing is None else MethodUnavailable(METHOD, missing.reason, missing.fix)


def start(session: Session, request: SignInRequest) -> SignIn:
    missing = unavailable(request)
    if missing is not None:
        raise missing
    return _sign_in(session, request)  # pragma: no cover - needs Windows + VS Code


def _sign_in(
    session: Session, request: SignInRequest
) -> SignIn:  # pragma: no cover - needs Windows + VS Code
    from azure.identity import VisualStudioCodeCredential

    from ._identity_source import explicit_tenant, sign_in_with

    # VS Code's record names its own client and authority; only the tenant can be chosen.
    tenant = explicit_tenant(request)
    credential = VisualStudioCodeCredential(**({"tenant_id": tenant} if tenant else {}))
    return sign_in_with(session, request, credential, label=LABEL, fix=_SIGN_IN)


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("visual_studio_code", "vs_code"),
    person=True,
    auto=AutoPlace("VS Code", "visualstudiocodecredential", "dev", True, order=None),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
