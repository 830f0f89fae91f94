"""What a kernel keeps on disk, as a named strategy, and the environment settings that choose it.

`Persistence` names the three strategies (see `nbauth._persistence`); ``$NBAUTH_PERSIST``,
``$NBAUTH_PERSIST_ALLOW_UNENCRYPTED`` and ``$NBAUTH_CACHE_DIR`` choose them when the code does
not. A bad value is returned as the sentence to raise, so that the caller raises it only where
it matters. `PersistenceStatus` is what ``%azwhoami`` says about it. Standard library only.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from ._base_errors import ConfigurationError, redact

__all__ = [
    "ENV_ALLOW_UNENCRYPTED",
    "ENV_CACHE_DIR",
    "ENV_PERSIST",
    "Persistence",
    "PersistenceStatus",
    "default_cache_dir",
    "env_flag",
    "env_strategy",
]

ENV_PERSIST = "NBAUTH_PERSIST"
ENV_ALLOW_UNENCRYPTED = "NBAUTH_PERSIST_ALLOW_UNENCRYPTED"
ENV_CACHE_DIR = "NBAUTH_CACHE_DIR"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class Persistence(str, enum.Enum):
    """What a kernel keeps on disk so that a restarted kernel can sign in again."""

    NONE = "none"
    """Nothing (the default). Recommended for shared machines."""
    READ_WRITE = "read_write"
    """The token cache (encrypted, or plaintext 0600 if allowed) and who signed in: after a
    restart, the same account signs in silently."""
    REAUTH = "reauth"
    """Only who signed in, no token: after a restart the sign-in asks again, account named."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Persistence | str, what: str = "persistence") -> Persistence:
        if isinstance(value, Persistence):
            return value
        key = str(value).strip().lower().replace("-", "_")
        key = {"readwrite": "read_write", "re_auth": "reauth", "off": "none"}.get(key, key)
        for member in cls:
            if member.value == key:
                return member
        raise ConfigurationError(
            f"{what} must be one of {', '.join(m.value for m in cls)}; got {_shown(value)}."
        )


def _shown(value: object) -> str:
    """A value someone typed, for an error message: short, and never something secret-like."""
    return repr(redact(str(value)[:40]))


# Where to choose instead of a bad environment variable; said by both of its errors.
_CHOOSE_HERE = (
    "Correct or unset it, or choose in this kernel with `%azlogin --persist STRATEGY` (add "
    "`--allow-unencrypted` to allow a plaintext file; Python: nbauth.login(persistence=...))."
)


def env_strategy() -> tuple[Persistence | None, str | None]:
    """``$NBAUTH_PERSIST``: (the strategy, None), or (None, what is wrong with it)."""
    value = os.environ.get(ENV_PERSIST) or "none"
    try:
        return Persistence.parse(value), None
    except ConfigurationError:
        names = ", ".join(m.value for m in Persistence)
        return None, f"${ENV_PERSIST} must be one of {names}; got {_shown(value)}. {_CHOOSE_HERE}"


def env_flag(name: str) -> tuple[bool, str | None]:
    """A yes/no variable: (its value, None), or (False, what is wrong with it)."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True, None
    if value in _FALSE:
        return False, None
    return False, (
        f"${name} must be 1 or 0 (true/false, yes/no, on/off); got {_shown(value)}. {_CHOOSE_HERE}"
    )


def default_cache_dir() -> Path:
    """``$NBAUTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbauth``, else ``~/.cache/nbauth``."""
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec says relative paths are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "nbauth"
    return Path.home() / ".cache" / "nbauth"


@dataclass(frozen=True)
class PersistenceStatus:
    """What ``%azwhoami`` says about saving sign-ins. No secret."""

    strategy: Persistence
    location: str | None = None
    """The token cache file (``read_write``) or the account record (``reauth``)."""
    is_encrypted: bool | None = None
    """True/False once the token cache is open; None when no token is saved."""
    storage: str | None = None
    """'libsecret', 'Keychain', 'DPAPI' or 'plaintext file'."""
    problem: str | None = None
    """Why saving was turned off in this kernel, if it was."""

    def describe(self) -> str:
        if self.problem:
            return f"{self.strategy} requested, but off in this kernel: {self.problem}"
        if self.strategy is Persistence.NONE:
            return "none (this kernel only)"
        if self.strategy is Persistence.REAUTH:
            where = f" in {self.location}" if self.location else ""
            return f"reauth (remembers who signed in{where}; no token saved)"
        if self.is_encrypted is None:
            return "read_write (nothing saved yet)"
        how = f"encrypted ({self.storage})" if self.is_encrypted else "NOT encrypted"
        return f"read_write, {how}: {self.location}"
