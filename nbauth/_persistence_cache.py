"""The msal token cache that is also saved on disk, and where it is saved.

`PersistentTokenCache` is the session's msal cache. Until a backend is attached it is an
ordinary in-memory cache. Attached, it keeps the disk copy and itself in step, for any number of
kernels sharing the file:

- every change (msal's ``add`` of a token response, ``modify`` / ``remove_*``) happens under the
  directory's cross-process lock as read-latest, apply, write: two kernels signing in different
  accounts at once both end up in the file;
- a lookup first re-reads the file if someone else replaced it (a stat, not a read, otherwise);
- the kernel's memory is the truth, the file a copy: the accounts this kernel is signed in with
  (`hold`) are never dropped by what is on disk, only by this kernel's own sign-out (`forget`).
  If another process damages, empties or deletes the file, they are written back, with one
  warning (a damaged file is moved aside first, and never quoted). Other kernels' sign-ins
  follow the file: they appear when written there and go when removed;
- a file that cannot be written (disk full, lock held too long) turns persistence off for this
  kernel with a warning, and the tokens stay in memory.

Backends: msal-extensions' encrypted persistence (libsecret, Keychain, DPAPI) where the platform
has it, else a plaintext file readable only by the user, and only if allowed explicitly.

Imports msal: import this module only on first sign-in (`nbauth._persistence` does).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import msal

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
    "EncryptedBackend",
    "announce",
    "EncryptionUnavailable",
    "PersistentTokenCache",
    "PlaintextBackend",
    "TokenCacheBackend",
    "open_token_backend",
    "remove_accounts",
    "stored_backends",
]


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
        self._held: set[str] = set()
        self.failure: str | None = None
        """Why persistence was turned off for this kernel, if it was."""
        self.restored: Callable[[], object] | None = None
        """Called after this kernel's sign-ins were written back to a store that had lost them
        (the record of who signed in may be gone as well)."""

    @property
    def backend(self) -> TokenCacheBackend | None:
        return self._backend

    def attach(self, backend: TokenCacheBackend) -> None:
        """Start saving to `backend`: what is stored there, plus this kernel's sign-ins."""
        with self._mutex:
            with backend.locked():
                stored, damaged = self._load_locked(backend)
                # Memory wins here: while detached it may have moved on from the stored copy.
                changed = self._merge(stored, prefer_memory=True)
                self._synced = (
                    backend.write(super().serialize()) if changed else backend.signature()
                )
                if damaged is not None:
                    _report_damage(backend, damaged, rewritten=changed)
            self._backend = backend
            self.failure = None

    def detach(self) -> None:
        """Stop saving (what is in memory stays; what is on disk stays)."""
        with self._mutex:
            self._backend = None
            self._synced = None

    def hold(self, home_account_id: str) -> None:
        """This kernel is signed in with this account: what is on disk never drops it."""
        with self._mutex:
            self._held.add(home_account_id)

    def forget(self, home_account_ids: set[str]) -> None:
        """Sign-out: remove these accounts from memory and from the attached store."""
        with self._mutex:
            self._held.difference_update(home_account_ids)
            backend = self._backend
            if backend is not None:
                try:
                    with backend.locked():
                        self._sync_locked(backend)
                        if self._drop(home_account_ids):
                            self._synced = backend.write(super().serialize())
                    return
                except _IO_ERRORS as exc:
                    self._fail(backend, exc)
            self._drop(home_account_ids)

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
        """Take in what someone else saved since we last read or wrote the store; write back
        this kernel's sign-ins if the store lost them (damaged, emptied, deleted)."""
        signature = backend.signature()
        if signature == self._synced:
            return
        deleted = signature is None and self._synced is not None
        stored, damaged = self._load_locked(backend)
        lost = self._merge(stored, prefer_memory=False)
        self._synced = backend.write(super().serialize()) if lost else backend.signature()
        if lost and self.restored is not None:
            self.restored()
        if damaged is not None:
            _report_damage(backend, damaged, rewritten=lost)
        elif lost:
            what = "was deleted" if deleted else "no longer held this kernel's sign-in"
            warn(
                f"The saved Azure sign-in cache {backend.location} {what} (another program "
                f"changed it). This kernel is still signed in and saved its sign-in there "
                f"again; `%azlogout` signs out and removes it."
            )

    def _merge(self, stored: dict[str, Any], *, prefer_memory: bool) -> bool:
        """Make memory what is stored plus the entries of the accounts this kernel holds
        (and msal's app metadata, which belongs to no account) that the store lacks; with
        `prefer_memory`, those entries replace stored ones too. Returns whether the result
        holds anything the store does not, i.e. whether the store should be written."""
        memory = json.loads(super().serialize())
        merged = {kind: dict(entries) for kind, entries in stored.items()}
        now = time.time()
        changed = False
        for kind, entries in memory.items():
            for key, entry in entries.items():
                owner = entry.get("home_account_id") if isinstance(entry, dict) else None
                if owner is not None and owner not in self._held:
                    continue  # another kernel's: the store decides
                target = merged.setdefault(kind, {})
                if key in target and (not prefer_memory or target[key] == entry):
                    continue
                if _expired(kind, entry, now):
                    continue  # msal would drop it at the next lookup anyway
                target[key] = entry
                changed = changed or owner is not None or prefer_memory
        super().deserialize(json.dumps(merged))
        return changed

    def _drop(self, home_account_ids: set[str]) -> bool:
        kept, changed = _without(json.loads(super().serialize()), home_account_ids)
        if changed:
            super().deserialize(json.dumps(kept))
        return changed

    def _load_locked(self, backend: TokenCacheBackend) -> tuple[dict[str, Any], str | None]:
        """The stored cache, and, if it was damaged, where it was moved ('' if nowhere)."""
        try:
            return _read_stored(backend), None
        except DamagedCache:
            # Never quote the file or the parser's message: both may hold a token.
            return {}, backend.discard_damaged() or ""

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


def _read_stored(backend: TokenCacheBackend) -> dict[str, Any]:
    """The stored cache ({} if there is none); `DamagedCache` if it cannot be read."""
    try:
        text = backend.read()
        if text is None:
            return {}
        data = json.loads(text)
    except CacheLocationError:
        raise
    except (ValueError, UnicodeError, OSError) as exc:
        if isinstance(exc, OSError) and not _is_decryption_error(exc):
            raise
        raise DamagedCache() from None
    if not _well_formed(data):
        raise DamagedCache()
    return data


def _report_damage(backend: TokenCacheBackend, aside: str, *, rewritten: bool) -> None:
    where = f" It was moved to {aside}." if aside else ""
    then = (
        " This kernel is still signed in and saved its sign-in there again; sign-ins that "
        "only stopped kernels had saved there are lost (sign in again with `%azlogin`)."
        if rewritten
        else " Sign in again with `%azlogin`."
    )
    warn(
        f"The saved Azure sign-in cache {backend.location} could not be read (it is damaged "
        f"or incomplete).{where}{then}"
    )


def _expired(kind: str, entry: dict[str, Any], now: float) -> bool:
    if kind != msal.TokenCache.CredentialType.ACCESS_TOKEN:
        return False
    try:
        return int(entry["expires_on"]) < now
    except (KeyError, TypeError, ValueError):
        return True


def _without(data: dict[str, Any], home_account_ids: set[str]) -> tuple[dict[str, Any], bool]:
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
        kept, changed = _without(_read_stored(backend), home_account_ids)
        if changed:
            backend.write(json.dumps(kept))


def _is_decryption_error(exc: OSError) -> bool:
    try:
        from msal_extensions.persistence import PersistenceDecryptionError
    except ImportError:  # pragma: no cover - msal-extensions comes with azure-identity
        return False
    return isinstance(exc, PersistenceDecryptionError)
