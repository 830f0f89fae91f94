"""Where a saved token cache lives: the backends, and reading and cleaning what they hold.

`open_token_backend` picks msal-extensions' encrypted persistence (libsecret, Keychain, DPAPI)
where the platform has it, else a plaintext file readable only by the user, and only if allowed
explicitly (`announce` then warns once). `read_stored` reads a store as msal's serialized cache,
or raises `DamagedCache`; `stored_backends` / `remove_accounts` clean a store no live cache is
attached to (sign-out). The cache that keeps memory and a store in step is
`nbauth._persistence_cache`.

Imports no msal: msal-extensions is imported when an encrypted store is opened.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeGuard

from ._base_errors import ConfigurationError
from ._persistence_files import (
    ENCRYPTED_NAME,
    PLAINTEXT_NAME,
    CacheDir,
    CacheLocationError,
    DamagedCache,
    warn,
)

__all__ = [
    "ACCESS_TOKEN",
    "EncryptedBackend",
    "EncryptedPersistence",
    "EncryptionUnavailable",
    "PlaintextBackend",
    "TokenCacheBackend",
    "announce",
    "open_token_backend",
    "read_stored",
    "remove_accounts",
    "stored_backends",
    "without_accounts",
]

# msal.TokenCache.CredentialType.ACCESS_TOKEN, named here so that reading a store needs no msal.
ACCESS_TOKEN = "AccessToken"

_warned_plaintext: set[str] = set()
_warned_lock = threading.Lock()


class EncryptionUnavailable(ConfigurationError):
    """The platform offers no encrypted store and an unencrypted cache was not allowed."""


class TokenCacheBackend(Protocol):
    location: str
    is_encrypted: bool
    storage: str
    """Where the data lives, for people: 'libsecret', 'Keychain', 'DPAPI', 'plaintext file'."""

    def locked(self) -> AbstractContextManager[None]: ...

    def signature(self) -> object | None:
        """Changes whenever the stored data changes; None if nothing is stored."""

    def read(self) -> str | None: ...

    def write(self, text: str) -> object:
        """Store `text`; returns the new signature."""

    def discard_damaged(self) -> str | None:
        """Get rid of unreadable data; returns where it was moved, if it was."""


class EncryptedPersistence(Protocol):
    """What nbauth uses of an msal-extensions persistence (which ships no type information)."""

    def load(self) -> str:
        """The stored text; raises msal-extensions' ``PersistenceNotFound`` if there is none."""

    def save(self, content: str) -> None: ...


class PlaintextBackend:
    """The cache as a 0600 JSON file in the cache directory; see `CacheDir`."""

    is_encrypted = False
    storage = "plaintext file"

    def __init__(self, directory: CacheDir, name: str = PLAINTEXT_NAME, why: str = "") -> None:
        self._dir = directory
        self._name = name
        self.location = str(directory.file(name))
        self.why_unencrypted = why

    def locked(self) -> AbstractContextManager[None]:
        return self._dir.locked()

    def signature(self) -> object | None:
        return self._dir.signature(self._name)

    def read(self) -> str | None:
        found = self._dir.read(self._name)
        return None if found is None else found[0]

    def write(self, text: str) -> object:
        return self._dir.write(self._name, text)

    def discard_damaged(self) -> str | None:
        aside = self._dir.move_aside(self._name)
        return str(aside) if aside is not None else None


class EncryptedBackend:
    """msal-extensions' encrypted persistence, with its marker file in our directory.

    (Any msal-extensions persistence fits; ``is_encrypted`` is what it says about itself.)
    """

    def __init__(
        self, directory: CacheDir, persistence: EncryptedPersistence, storage: str
    ) -> None:
        self._dir = directory
        self._persistence = persistence
        self.storage = storage
        self.is_encrypted = bool(getattr(persistence, "is_encrypted", False))
        self.location = str(directory.file(ENCRYPTED_NAME))

    def locked(self) -> AbstractContextManager[None]:
        return self._dir.locked()

    def signature(self) -> object | None:
        # The marker file is touched (DPAPI: written) on every save; a missing one means empty.
        return self._dir.signature(ENCRYPTED_NAME)

    def read(self) -> str | None:
        from msal_extensions.persistence import PersistenceNotFound

        try:
            return self._persistence.load()
        except PersistenceNotFound:
            return None

    def write(self, text: str) -> object:
        self._persistence.save(text)
        return self.signature()

    def discard_damaged(self) -> str | None:
        if self.storage == "DPAPI":
            aside = self._dir.move_aside(ENCRYPTED_NAME)
            return str(aside) if aside is not None else None
        self._persistence.save("{}")  # a keyring entry cannot be moved aside: overwrite it
        return None


def _encrypted_persistence(location: str) -> tuple[EncryptedPersistence, str]:
    """msal-extensions' encrypted persistence for this platform, or raise why not."""
    from msal_extensions import persistence

    if sys.platform.startswith("win"):
        return persistence.FilePersistenceWithDataProtection(location), "DPAPI"
    if sys.platform.startswith("darwin"):
        return persistence.KeychainPersistence(location), "Keychain"
    if sys.platform.startswith("linux"):
        return persistence.LibsecretPersistence(location), "libsecret"
    raise RuntimeError(f"no encrypted store is known for {sys.platform}")


def _no_encryption_reason(exc: BaseException) -> str:
    if sys.platform.startswith("linux"):
        return (
            "libsecret is not usable here (it needs PyGObject, gir1.2-secret-1 and a running "
            f"keyring such as gnome-keyring; {type(exc).__name__})"
        )
    return f"the system's encrypted store is not usable here ({type(exc).__name__})"


def open_token_backend(
    directory: CacheDir,
    *,
    allow_unencrypted: bool,
    encrypted: Callable[[str], tuple[EncryptedPersistence, str]] = _encrypted_persistence,
) -> TokenCacheBackend:
    """An encrypted backend if the platform has one; else plaintext if allowed; else raise
    `EncryptionUnavailable` saying what to do. Call `announce` once the backend is in use."""
    location = str(directory.file(ENCRYPTED_NAME))
    try:
        persistence, storage = encrypted(location)
    except Exception as exc:  # noqa: BLE001 - any failure means "no encryption here"
        reason = _no_encryption_reason(exc)
    else:
        return EncryptedBackend(directory, persistence, storage)
    if not allow_unencrypted:
        raise EncryptionUnavailable(
            f"nbauth cannot save sign-ins encrypted: {reason}. Choose one: keep sign-ins in "
            f"this kernel only (the default, `--persist none`); remember only who signed in "
            f"(`--persist reauth`); or save tokens in a file only you can read, unencrypted: "
            f"`%azlogin --persist read_write --allow-unencrypted` (Python: "
            f"allow_unencrypted=True; environment: NBAUTH_PERSIST_ALLOW_UNENCRYPTED=1)."
        )
    return PlaintextBackend(directory, why=reason)


def announce(backend: TokenCacheBackend) -> None:
    """The one visible warning (per file, per process) that tokens are saved unencrypted."""
    if backend.is_encrypted:
        return
    with _warned_lock:
        first = backend.location not in _warned_plaintext
        _warned_plaintext.add(backend.location)
    if first:
        why = getattr(backend, "why_unencrypted", "") or "encryption is not available"
        warn(
            f"Sign-ins are saved UNENCRYPTED in {backend.location} (readable only by you, mode "
            f"600), because {why}. Anyone who can read your files, or a backup of them, can "
            f"use your Azure sign-in. Use `%azlogout` to remove it."
        )


def _well_formed(data: object) -> TypeGuard[dict[str, Any]]:
    """msal would fail later, deep in a lookup, on anything but this shape."""
    if not isinstance(data, dict):
        return False
    for kind, entries in data.items():
        if not isinstance(entries, dict):
            return False
        for entry in entries.values():
            if not isinstance(entry, dict):
                return False
            if kind == ACCESS_TOKEN:
                try:
                    int(entry["expires_on"])
                except (KeyError, TypeError, ValueError):
                    return False
    return True


def read_stored(backend: TokenCacheBackend) -> dict[str, Any]:
    """The stored cache ({} if there is none); `DamagedCache` if it cannot be read."""
    try:
        text = backend.read()
        if text is None:
            return {}
        data = json.loads(text)
    except CacheLocationError:
        raise
    except (ValueError, UnicodeError, OSError, RecursionError) as exc:
        if isinstance(exc, OSError) and not _is_decryption_error(exc):
            raise
        raise DamagedCache() from None
    if not _well_formed(data):
        raise DamagedCache()
    return data


def without_accounts(
    data: dict[str, Any], home_account_ids: set[str]
) -> tuple[dict[str, Any], bool]:
    """`data` (a serialized msal cache) without any entry of these accounts."""
    kept: dict[str, Any] = {}
    changed = False
    for kind, entries in data.items():
        kept[kind] = {}
        for key, entry in entries.items():
            if isinstance(entry, dict) and entry.get("home_account_id") in home_account_ids:
                changed = True
            else:
                kept[kind][key] = entry
    return kept, changed


def stored_backends(
    directory: CacheDir, known: dict[str, TokenCacheBackend]
) -> list[TokenCacheBackend]:
    """The token caches saved in `directory` (`known`: backends already open, by location)."""
    found: list[TokenCacheBackend] = []
    for name in (PLAINTEXT_NAME, ENCRYPTED_NAME):
        location = str(directory.file(name))
        if directory.signature(name) is None:
            continue
        backend = known.get(location)
        if backend is None and name == PLAINTEXT_NAME:
            backend = PlaintextBackend(directory)
        elif backend is None:
            try:
                backend = open_token_backend(directory, allow_unencrypted=False)
            except EncryptionUnavailable:
                continue  # no store to read it with here
        found.append(backend)
    return found


def remove_accounts(backend: TokenCacheBackend, home_account_ids: set[str]) -> None:
    """Remove these accounts from a saved cache no live cache of this kernel is attached to.
    Raises `DamagedCache` if it cannot be read (it may still hold them: the caller says so)."""
    with backend.locked():
        kept, changed = without_accounts(read_stored(backend), home_account_ids)
        if changed:
            backend.write(json.dumps(kept))


def _is_decryption_error(exc: OSError) -> bool:
    try:
        from msal_extensions.persistence import PersistenceDecryptionError
    except ImportError:  # pragma: no cover - msal-extensions comes with azure-identity
        return False
    return isinstance(exc, PersistenceDecryptionError)
