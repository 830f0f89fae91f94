"""Sign-in methods, one module each, found by name.

A method module exposes ``start(session, request) -> SignIn``: it shows the prompt (if any),
starts whatever runs in the background, and returns the pending (or already finished) sign-in.
Modules are imported on first use so that naming a method costs nothing until it is used.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._base_errors import ConfigurationError
from .._prompt import print_notice
from ._method import Method

if TYPE_CHECKING:
    from .._prompt import Prompt
    from .._signin import SignIn
    from ._host import SessionHost as Session

__all__ = [
    "Method",
    "SignInRequest",
    "available",
    "canonical_name",
    "check_options",
    "declaration",
    "declarations",
    "resolve",
]


@dataclass(frozen=True)
class SignInRequest:
    """Everything a method needs to know, with defaults already applied."""

    method: str
    authority_host: str
    tenant: str
    client_id: str
    scopes: tuple[str, ...]
    prompt: Callable[[Prompt], object]
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

# The registry: one line per method, naming its module (``nbauth/_methods/<name>.py``, which
# ends with ``DECLARATION = Method(...)``, see ._method). Listed in this order by `available()`.
_REGISTRY = (
    "device_code",
    # user sign-ins
    "browser",
    "broker",
    "vscode",
    "username_password",
    # the chain, services and developer tools
    "auto",
    "environment",
    "workload_identity",
    "managed_identity",
    "azure_cli",
    "azd",
    "powershell",
    "auth_file",
    "client_secret",
    "client_certificate",
)


def available() -> tuple[str, ...]:
    return _REGISTRY


def declaration(name: str) -> Method:
    """The `Method` a name (or alias) stands for; its module is imported now, not before."""
    module = importlib.import_module(f"{__name__}.{canonical_name(name)}")
    declared: Method = module.DECLARATION
    return declared


def declarations() -> tuple[Method, ...]:
    """Every method's declaration, in registry order (imports every method module)."""
    return tuple(declaration(name) for name in _REGISTRY)


@functools.lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    return {alias: d.name for d in declarations() for alias in d.aliases}


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    if key in _REGISTRY:  # the common case costs no import
        return key
    # 'azure-cli' == 'azure_cli', as %azlogin spells options
    for candidate in (key, key.replace("-", "_")):
        if candidate in _REGISTRY:
            return candidate
        if candidate in _aliases():
            return _aliases()[candidate]
    raise ConfigurationError(
        f"Unknown sign-in method {name!r}. Available: {', '.join(available())}."
    )


def resolve(name: str) -> Start:
    """The method's ``start``, which refuses options the method does not declare."""
    method = declaration(name)

    def start(session: Session, request: SignInRequest) -> SignIn:
        check_options(request, *method.options)
        return method.start(session, request)

    return start


def check_options(request: SignInRequest, *allowed: str) -> None:
    """Reject options the method does not take, naming them (never their values)."""
    unknown = sorted(set(request.options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise ConfigurationError(
            f"Sign-in method {request.method!r} does not take {', '.join(unknown)}; it takes "
            f"{takes}."
        )
