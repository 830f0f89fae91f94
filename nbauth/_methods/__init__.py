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

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from .._prompt import DeviceCodePrompt
    from .._session import Session
    from .._signin import SignIn

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


Start = Callable[["Session", SignInRequest], "SignIn"]

# method name -> module holding its `start`
_MODULES = {
    "device_code": "nbauth._methods.device_code",
}
_ALIASES = {
    "devicecode": "device_code",
    "device-code": "device_code",
}


def available() -> tuple[str, ...]:
    return tuple(_MODULES)


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
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
