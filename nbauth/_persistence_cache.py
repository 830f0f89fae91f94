"""The msal token cache that is also saved on disk, merged with what other kernels saved.

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

Where it is saved (the backends) is `nbauth._persistence_backends`.

Imports msal: import this module only on first sign-in (`nbauth._persistence` does).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import msal

from ._persistence_backends import TokenCacheBackend, read_stored, without_accounts
from ._persistence_files import CacheLocationError, DamagedCache, warn

__all__ = ["PersistentTokenCache"]


# Failures that turn persistence off for this kernel instead of failing a sign-in.
_IO_ERRORS: tuple[type[BaseException], ...] = (OSError, CacheLocationError)


# msal ships no type information, so its class is Any to a type checker.
class PersistentTokenCache(msal.SerializableTokenCache):  # type: ignore[misc]
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
            return cast(  # msal ships no type information
                "Iterator[dict[str, Any]]",
                super().search(credential_type, target=target, query=query, now=now),
            )
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
        kept, changed = without_accounts(json.loads(super().serialize()), home_account_ids)
        if changed:
            super().deserialize(json.dumps(kept))
        return changed

    def _load_locked(self, backend: TokenCacheBackend) -> tuple[dict[str, Any], str | None]:
        """The stored cache, and, if it was damaged, where it was moved ('' if nowhere)."""
        try:
            return read_stored(backend), None
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
