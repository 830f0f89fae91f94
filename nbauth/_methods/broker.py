"""Sign-in through the operating system's authentication broker (WAM on Windows), via
azure-identity-broker's ``InteractiveBrowserBrokerCredential``.

The broker signs in with the account the operating system already knows (Windows Hello, device
compliance for Conditional Access). It needs the ``azure-identity-broker`` package and a
platform that package supports (its README: WAM on Windows 10+ since 1.0.0, Company Portal on
macOS since 1.3.0b1, WAM on WSL and Microsoft Identity Broker on Linux since 1.3.0b2), and its
window opens on the kernel's machine, so a remote kernel cannot use it.

Where it cannot work, nbauth says why in one line and does what the Azure docs describe for
that case: the interactive browser sign-in (which itself falls back to device code on a remote
kernel). ``fallback=False`` raises `MethodUnavailable` instead.

Options: ``login_hint`` (a username), ``fallback`` (default True), ``open_browser`` (handed to
the browser fallback; see `nbauth._methods.browser`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import _kernel_location
from .._errors import ConfigurationError
from . import browser
from ._identity_source import explicit_tenant, identity_kwargs, sign_in_with
from ._method import Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "METHOD", "Unavailable", "start", "unavailable", "unavailable_on"]

METHOD = "broker"
PACKAGE = "azure-identity-broker"
LABEL = "the authentication broker (WAM)"
_INSTALL = f"Install it with `pip install {PACKAGE}` and restart the kernel."
# Where Microsoft Identity Broker for Linux installs itself (the intune-portal packages).
_LINUX_BROKER_PATHS = ("/opt/microsoft/identity-broker", "/usr/bin/microsoft-identity-broker")


@dataclass(frozen=True)
class Unavailable:
    reason: str
    """What is missing, e.g. "the azure-identity-broker package is not installed"."""
    fix: str
    """What to do about it."""


def _version_key(text: str) -> tuple[int, ...] | None:
    """``1.3.0b2`` -> (1, 3, 0, 1, 2): release, then a/b/rc/final as 0/1/2/3."""
    found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?", text.strip())
    if found is None:
        return None
    major, minor, patch, stage, number = found.groups()
    stages = {"a": 0, "b": 1, "rc": 2, None: 3}
    return (int(major), int(minor), int(patch or 0), stages[stage], int(number or 0))


def installed_version() -> str | None:
    """The installed azure-identity-broker version, without importing it (cheap)."""
    from importlib import metadata

    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def unavailable_on(
    *,
    platform: str | None = None,
    version: str | None | bool = True,
    environ: Mapping[str, str] | None = None,
    proc_version: str | None = None,
    linux_broker_installed: bool | None = None,
) -> Unavailable | None:
    """Why the broker cannot sign in from this kernel, or None if it can. No network.

    The keyword arguments describe another machine (tests): ``platform`` (``sys.platform``),
    ``version`` (of azure-identity-broker; None: not installed; True: look it up),
    ``environ`` / ``proc_version`` (see `_kernel_location.detect`), and
    ``linux_broker_installed``.
    """
    plat = sys.platform if platform is None else platform
    found = installed_version() if version is True else version
    where = _kernel_location.detect(environ, platform=plat, proc_version=proc_version)
    if not where.local and where.kind != "wsl":
        return Unavailable(
            f"this kernel runs on {where.reason}, and the broker's window would open there",
            "Use --method device_code.",
        )
    if plat == "win32":
        needed, what = "1.0.0", "Windows"
    elif plat == "darwin":
        needed, what = "1.3.0b1", "macOS (with Company Portal)"
    elif plat.startswith("linux") and where.kind == "wsl":
        needed, what = "1.3.0b2", "WSL"
    elif plat.startswith("linux"):
        needed, what = "1.3.0b2", "Linux (with Microsoft Identity Broker)"
    else:
        return Unavailable(f"there is no authentication broker for {plat}", "")
    if found is None or found is False:
        return Unavailable(f"the {PACKAGE} package is not installed", _INSTALL)
    have, need = _version_key(str(found)), _version_key(needed)
    if have is None or need is None or have < need:
        return Unavailable(
            f"{PACKAGE} {found} does not support the broker on {what} (needs {needed} or later)",
            f"Upgrade it with `pip install -U {PACKAGE}` and restart the kernel.",
        )
    if what.startswith("Linux"):
        present = (
            any(os.path.exists(p) for p in _LINUX_BROKER_PATHS)
            if linux_broker_installed is None
            else linux_broker_installed
        )
        if not present:
            return Unavailable(
                "Microsoft Identity Broker is not installed on this Linux machine",
                "Install Microsoft Intune / Identity Broker, or use --method browser.",
            )
    return None


def unavailable(request: SignInRequest | None = None) -> MethodUnavailable | None:
    """Why this method cannot work in this kernel (see `unavailable_on`), or None."""
    missing = unavailable_on()
    return None if missing is None else MethodUnavailable(METHOD, missing.reason, missing.fix)


def start(session: Session, request: SignInRequest) -> SignIn:
    login_hint = request.options.get("login_hint")
    if login_hint is not None and not isinstance(login_hint, str):
        raise ConfigurationError("login_hint must be a username such as alice@contoso.com.")
    missing = unavailable(request)
    if missing is not None:
        if not request.options.get("fallback", True):
            raise missing
        request.notice(
            f"The broker (WAM) cannot be used: {missing.reason}. Signing in with the browser "
            f"instead."
        )
        options = {
            name: request.options[name]
            for name in ("login_hint", "open_browser")
            if request.options.get(name) is not None
        }
        return browser.start(
            session, replace(request, method=browser.METHOD, options=MappingProxyType(options))
        )
    return _sign_in_with_broker(session, request, login_hint)


def _sign_in_with_broker(
    session: Session, request: SignInRequest, login_hint: str | None
) -> SignIn:  # pragma: no cover - needs a real broker (Windows WAM); not on the test machines
    import msal
    from azure.identity.broker import InteractiveBrowserBrokerCredential

    credential = InteractiveBrowserBrokerCredential(
        parent_window_handle=msal.PublicClientApplication.CONSOLE_WINDOW_HANDLE,
        tenant_id=explicit_tenant(request) or request.tenant,
        client_id=request.client_id,
        login_hint=login_hint,
        **identity_kwargs(request.authority_host),
    )
    # The first token opens the broker's window and blocks until the person is done; the
    # stop button (KeyboardInterrupt) ends the wait.
    return sign_in_with(
        session,
        request,
        credential,
        label=LABEL,
        fix=f"Sign in to Windows with your work account, or use --method browser. {_INSTALL}",
    )


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("wam",),
    person=True,
    account="login_hint",
    options=("login_hint", "fallback", "open_browser"),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
