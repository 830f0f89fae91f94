"""What a sign-in method declares about itself: one `Method` object per method module.

Each method module (``nbauth/_methods/<name>.py``) ends with ``DECLARATION = Method(...)``. The
registry (`nbauth._methods`) lists the modules; ``auto``, ``%azlogin``'s option parsing and
help, and the docs read these declarations, never tables of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost
    from ._unavailable import MethodUnavailable

__all__ = ["AutoPlace", "Flag", "Method"]


@dataclass(frozen=True)
class AutoPlace:
    """A method's place in the ``auto`` chain (`nbauth._methods.auto`)."""

    label: str
    """How the chain's report names the step, e.g. ``"Azure CLI"``."""
    env_name: str | None
    """Its credential's name in azure-identity's ``AZURE_TOKEN_CREDENTIALS``, if any."""
    group: Literal["prod", "dev"]
    stop_on_failure: bool
    """True: a failure once set up ends the chain (going on would sign in as someone else)."""
    order: int | None
    """Its position in the default chain (lower runs first); None: only when named by
    ``AZURE_TOKEN_CREDENTIALS``."""


@dataclass(frozen=True)
class Flag:
    """A ``%azlogin`` flag that sets one of the method's options, e.g. ``--auth-file``."""

    dest: str
    """The argparse destination (``args.<dest>``)."""
    flag: str
    option: str
    """The option it sets (``nbauth.login(method, <option>=...)``)."""
    path: bool = True
    """The value is a file path: ``~`` is expanded."""
    required: str | None = None
    """If the method needs this flag on ``%azlogin``'s line: what to say when it is missing,
    after "--method M needs --flag "."""


@dataclass(frozen=True)
class Method:
    """Everything nbauth knows about a sign-in method besides how it signs in."""

    name: str
    start: Callable[[SessionHost, SignInRequest], SignIn]
    unavailable: Callable[[SignInRequest], MethodUnavailable | None] | None = None
    """Why it cannot work here, found without signing in (None: it cannot tell in advance)."""
    aliases: tuple[str, ...] = ()
    person: bool = False
    """A person signs in (not a service principal, an identity or a developer tool)."""
    account: Literal["silent", "login_hint"] | None = None
    """What ``%azlogin --account USER`` does with it: ``silent`` (that account again without a
    prompt if it still works, else a sign-in for it), ``login_hint`` (preselected on the
    sign-in page), None (refused)."""
    options: tuple[str, ...] = ()
    """Its options (``nbauth.login(method, **options)``); any other is refused, by name."""
    flags: tuple[Flag, ...] = ()
    azure_identity: bool = False
    """Its token source is an azure-identity credential (``auto`` reuses it by asking it for a
    token; msal accounts go through a silent sign-in)."""
    auto: AutoPlace | None = None
