"""Sign-in methods, one module each, found by name.

A method module exposes ``start(session, request) -> SignIn``: it shows the prompt (if any),
starts whatever runs in the background, and returns the pending (or already finished) sign-in.
Modules are imported on first use so that naming a method costs nothing until it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._base_errors import ConfigurationError
from .._prompt import print_notice

if TYPE_CHECKING:
    from .._prompt import DeviceCodePrompt
    from .._signin import SignIn
    from ._host import SessionHost as Session

__all__ = ["SignInRequest", "available", "canonical_name", "check_options", "resolve"]


@dataclass(frozen=True)
class SignInRequest:
    """Everything a method needs to know, with defaults already applied."""

    method: str
    authority_host: str
    tenant: str
    client_id: str
    scopes: tuple[str, ...]
    prompt: Callable[[DeviceCodePrompt], object]
    claims: str | None = None
    """A claims challenge the sign-in must satisfy (None: none)."""
    options: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    """Method-specific arguments (``nbauth.login(method, **options)``): client secret,
    certificate path, username, password, auth file, managed identity client ID... Read-only.
    Kept out of the repr because some are secrets; a method must never echo a value, only a
    name (``"client_secret"``). Each method rejects options it does not know."""
    notice: Callable[[str], object] = field(default=print_notice, repr=False, compare=False)
    """How a method tells the person something on the way (it falls back to another method,
    where to finish signing in): never ``print``, so that a card can show it. Default: print."""


Start = Callable[["Session", SignInRequest], "SignIn"]

# method name -> module holding its `start`
_MODULES = {
    "device_code": "nbauth._methods.device_code",
    # user sign-ins (METHODS_USER)
    "browser": "nbauth._methods.browser",
    "broker": "nbauth._methods.broker",
    "vscode": "nbauth._methods.vscode",
    "username_password": "nbauth._methods.username_password",
    # services, developer tools and the auto chain (METHODS_SERVICE)
    "auto": "nbauth._methods.auto",
    "environment": "nbauth._methods.environment",
    "workload_identity": "nbauth._methods.workload_identity",
    "managed_identity": "nbauth._methods.managed_identity",
    "azure_cli": "nbauth._methods.azure_cli",
    "azd": "nbauth._methods.azd",
    "powershell": "nbauth._methods.powershell",
    "auth_file": "nbauth._methods.auth_file",
    "client_secret": "nbauth._methods.client_secret",
    "client_certificate": "nbauth._methods.client_certificate",
}
_ALIASES = {
    "devicecode": "device_code",
    "device-code": "device_code",
    "interactive_browser": "browser",
    "interactive-browser": "browser",
    "wam": "broker",
    "visual_studio_code": "vscode",
    "vs_code": "vscode",
    "username-password": "username_password",
    "password": "username_password",
    "ropc": "username_password",
    "default": "auto",
    "env": "environment",
    "workload": "workload_identity",
    "msi": "managed_identity",
    "mi": "managed_identity",
    "cli": "azure_cli",
    "az": "azure_cli",
    "azure_developer_cli": "azd",
    "pwsh": "powershell",
    "azure_powershell": "powershell",
    "sdk_auth": "auth_file",
    "secret": "client_secret",
    "certificate": "client_certificate",
    "cert": "client_certificate",
}


def available() -> tuple[str, ...]:
    return tuple(_MODULES)


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _MODULES:  # 'azure-cli' == 'azure_cli', as %azlogin spells options
        key = _ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
    if key not in _MODULES:
        raise ConfigurationError(
            f"Unknown sign-in method {name!r}. Available: {', '.join(available())}."
        )
    return key


def resolve(name: str) -> Start:
    module = importlib.import_module(_MODULES[canonical_name(name)])
    return module.start


def check_options(request: SignInRequest, *allowed: str) -> None:
    """Reject options the method does not take, naming them (never their values)."""
    unknown = sorted(set(request.options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise ConfigurationError(
            f"Sign-in method {request.method!r} does not take {', '.join(unknown)}; it takes "
            f"{takes}."
        )
