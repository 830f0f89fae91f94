"""The msal token cache that is also saved on disk, and where it is saved.

`PersistentTokenCache` is the session's msal cache. Until a backend is attached it is an
ordinary in-memory cache. Attached, it keeps the disk copy and itself in step, for any number of
kernels sharing the file:

- every change (msal's ``add`` of a token response, ``modify`` / ``remove_*``) happens under the
  directory's cross-process lock as read-latest, apply, write: two kernels signing in different
  accounts at once both end up in the file;
- a lookup first re-reads the file if someone else replaced it (a stat, not a read, otherwise);
- a damaged file is moved aside with a warning that never quotes it, and the kernel goes on with
  an empty cache; a file that cannot be written (disk full, lock held too long) turns
  persistence off for this kernel with a warning, and the tokens stay in memory.

Backends: msal-extensions' encrypted persistence (libsecret, Keychain, DPAPI) where the platform
has it, else a plaintext file readable only by the user, and only if allowed explicitly.

Imports msal: import this module only on first sign-in (`nbauth._persistence` does).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import msal

from ._base_errors import ConfigurationError
from ._persistence_files import CacheDir, CacheLocationError, warn

__all__ = [
    "EncryptedBackend",
    "announce",
    "EncryptionUnavailable",
    "PersistentTokenCache",
    "PlaintextBackend",
    "TokenCacheBackend",
    "open_token_backend",
]

PLAINTEXT_NAME = "token_cache.json"
# Encrypted stores keep the data elsewhere (keyring) or encrypted (DPAPI); a separate name keeps
# a plaintext file and an encrypted one from ever being taken for each other.
ENCRYPTED_NAME = "token_cache.bin"

# Failures that turn persistence off for this kernel instead of failing a sign-in.
_IO_ERRORS: tuple[type[BaseException], ...] = (OSError, CacheLocationError)

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

    def __init__(self, directory: CacheDir, persistence: Any, storage: str) -> None:
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


def _encrypted_persistence(location: str) -> tuple[Any, str]:
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
    encrypted: Callable[[str], tuple[Any, str]] = _encrypted_persistence,
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


def _well_formed(data: object) -> bool:
    """msal would fail later, deep in a lookup, on anything but this shape."""
    if not isinstance(data, dict):
        return False
    for kind, entries in data.items():
        if not isinstance(entries, dict):
            return False
        for entry in entries.values():
            if not isinstance(entry, dict):
                return False
            if kind == msal.TokenCache.CredentialType.ACCESS_TOKEN:
                try:
                    int(entry["expires_on"])
                except (KeyError, TypeError, ValueError):
                    return False
    return True


class PersistentTokenCache(msal.SerializableTokenCache):
    """The session's msal token cache, saved through a backend once one is attached.

    Lock order, always: this cache's mutex, then the directory lock, then msal's own lock.
    Every entry point msal calls (``add``, ``modify``, ``search``) takes the mutex first, so
    msal calling ``modify`` while holding its own lock (inside ``add`` or ``search``) finds the
    mutex already held by its thread and cannot deadlock with another thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._mutex = threading.RLock()
        self._backend: TokenCacheBackend | None = None
        self._synced: object | None = None
        self._batch = 0
        self.failure: str | None = None
        """Why persistence was turned off for this kernel, if it was."""

    @property
    def backend(self) -> TokenCacheBackend | None:
        return self._backend

    def attach(self, backend: TokenCacheBackend) -> None:
        """Start saving to `backend`: merge what is stored there with what is in memory."""
        with self._mutex:
            with backend.locked():
                stored = self._load_locked(backend)
                memory = json.loads(super().serialize())
                merged = {
                    kind: {**stored.get(kind, {}), **memory.get(kind, {})}
                    for kind in {*stored, *memory}
                }
                super().deserialize(json.dumps(merged))
                if merged != stored:
                    self._synced = backend.write(super().serialize())
            self._backend = backend
            self.failure = None

    def detach(self) -> None:
        """Stop saving (what is in memory stays; what is on disk stays)."""
        with self._mutex:
            self._backend = None
            self._synced = None

    # -- what msal calls ---------------------------------------------------------------------

    def add(self, event: dict[str, Any], **kwargs: Any) -> Any:
        with self._mutex:
            backend = self._backend
            if backend is None:
                return super().add(event, **kwargs)
            added = False
            try:
                with backend.locked():
                    self._sync_locked(backend)
                    # One token response is several msal modify() calls: save once, at the end.
                    self._batch += 1
                    try:
                        result = super().add(event, **kwargs)
                        added = True
                    finally:
                        self._batch -= 1
                    self._synced = backend.write(super().serialize())
                    return result
            except _IO_ERRORS as exc:
                self._fail(backend, exc)
                return None if added else super().add(event, **kwargs)

    def modify(
        self,
        credential_type: str,
        old_entry: dict[str, Any],
        new_key_value_pairs: dict[str, Any] | None = None,
    ) -> None:
        with self._mutex:
            backend = self._backend
            if backend is None or self._batch:
                super().modify(credential_type, old_entry, new_key_value_pairs)
                return
            try:
                with backend.locked():
                    self._sync_locked(backend)
                    super().modify(credential_type, old_entry, new_key_value_pairs)
                    self._synced = backend.write(super().serialize())
            except _IO_ERRORS as exc:
                self._fail(backend, exc)
                # modify is "set or pop by key": doing it again is harmless.
                super().modify(credential_type, old_entry, new_key_value_pairs)

    def search(
        self,
        credential_type: str,
        target: Any = None,
        query: Any = None,
        *,
        now: Any = None,
    ) -> Iterator[dict[str, Any]]:
        if self._backend is None:
            # Not persisting (the default): msal's own generator, which answers an access-token
            # lookup in O(1) and stops when its caller does. Listing it, as below, is O(n).
            return super().search(credential_type, target=target, query=query, now=now)
        with self._mutex:
            backend = self._backend
            if backend is not None:
                try:
                    if backend.signature() != self._synced:
                        with backend.locked():
                            self._sync_locked(backend)
                except _IO_ERRORS as exc:
                    self._fail(backend, exc)
            # Consumed under the mutex (msal's search may remove expired tokens as it goes).
            found = list(super().search(credential_type, target=target, query=query, now=now))
        return iter(found)

    # -- internals ---------------------------------------------------------------------------

    def _sync_locked(self, backend: TokenCacheBackend) -> None:
        """Re-read the stored cache if someone replaced it since we last read or wrote it."""
        if backend.signature() == self._synced:
            return
        super().deserialize(json.dumps(self._load_locked(backend)))
        self._synced = backend.signature()

    def _load_locked(self, backend: TokenCacheBackend) -> dict[str, Any]:
        try:
            text = backend.read()
            if text is None:
                return {}
            data = json.loads(text)
            if not _well_formed(data):
                raise ValueError("not a token cache")
        except CacheLocationError:
            raise
        except (ValueError, UnicodeError, OSError) as exc:
            if isinstance(exc, OSError) and not _is_decryption_error(exc):
                raise
            # Never quote the file or the parser's message: both may hold a token.
            aside = backend.discard_damaged()
            where = f" It was moved to {aside}." if aside else ""
            warn(
                f"The saved Azure sign-in cache {backend.location} could not be read (it is "
                f"damaged or incomplete).{where} Sign in again with `%azlogin`; this kernel "
                f"works normally meanwhile."
            )
            return {}
        return data

    def _fail(self, backend: TokenCacheBackend, exc: BaseException) -> None:
        self._backend = None
        self._synced = None
        if isinstance(exc, CacheLocationError):
            why = str(exc)
        else:
            why = f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or 'I/O error'}"
        self.failure = why
        warn(
            f"nbauth could not use the saved sign-in cache {backend.location} ({why}). This "
            f"kernel keeps its sign-in in memory only from now on; check the directory's "
            f"permissions and free space, then run `%azlogin --persist` again."
        )


def _is_decryption_error(exc: OSError) -> bool:
    try:
        from msal_extensions.persistence import PersistenceDecryptionError
    except ImportError:  # pragma: no cover - msal-extensions comes with azure-identity
        return False
    return isinstance(exc, PersistenceDecryptionError)
