"""Everything a session saved, and where: what its sign-out has to clean.

A session may change its persistence while it runs (another strategy, another directory, a
plaintext file after an encrypted one). `Footprint` remembers every directory and token store
it used and the sign-ins it recorded, across those changes, so that sign-out removes the
account from all of them (and from the cache directory of today, even if this session never
used it), whatever the strategy is by then. Shared by all the persisters a session goes through.
Imports no msal: a plaintext store is cleaned with the standard library alone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ._persistence_backends import TokenCacheBackend, remove_accounts, stored_backends
from ._persistence_files import (
    ENCRYPTED_NAME,
    PLAINTEXT_NAME,
    CacheDir,
    CacheLocationError,
    DamagedCache,
    failure_reason,
    unusable_directory,
    warn,
)
from ._persistence_records import ACCOUNTS_NAME, AccountRecord, OwnRecords, update_records

if TYPE_CHECKING:
    from ._persistence_cache import PersistentTokenCache

__all__ = ["Footprint"]


class Footprint:
    """What a session saved to; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # One CacheDir per directory: its lock is re-entrant only within the same object.
        self.directories: dict[Path, CacheDir] = {}
        self.backends: dict[str, TokenCacheBackend] = {}
        self.cache: PersistentTokenCache | None = None
        # This session's sign-ins, by home account ID, as recorded (until signed out).
        self._records: dict[str, AccountRecord] = {}

    def open_directory(self, path: Path) -> CacheDir:
        """The checked directory at `path`, the same object each time it is asked for."""
        with self.lock:
            directory = self.directories.get(path)
            if directory is None:
                try:
                    directory = CacheDir(path)
                except OSError as exc:
                    raise unusable_directory(path, exc) from None
                self.directories[path] = directory
            return directory

    def own_records(self) -> list[AccountRecord]:
        """This session's sign-ins, oldest first."""
        with self.lock:
            return list(self._records.values())

    def keep_record(self, record: AccountRecord) -> None:
        with self.lock:
            self._records[record.home_account_id] = record

    def forget(self, home_account_ids: set[str], cache_dir: Path, mine: OwnRecords) -> None:
        """Sign-out: remove these accounts from the session's msal cache, and their tokens and
        records from everything this session saved to, or `cache_dir` holds. Never creates
        anything; problems warn. `mine`: see `nbauth._persistence_records`."""
        with self.lock:
            for home_account_id in home_account_ids:
                self._records.pop(home_account_id, None)
        cache = self.cache
        attached = None
        if cache is not None:
            cache.forget(home_account_ids)
            attached = cache.backend.location if cache.backend is not None else None
        for directory in self._places_to_clean(cache_dir):
            self._forget_in(directory, home_account_ids, attached, mine)

    def _places_to_clean(self, cache_dir: Path) -> list[CacheDir]:
        with self.lock:
            known = set(self.directories)
        if cache_dir not in known and os.path.isdir(cache_dir):
            try:
                self.open_directory(cache_dir)
            except CacheLocationError:
                pass  # never used by this session, and not safe to open: leave it alone
        with self.lock:
            return list(self.directories.values())

    def _forget_in(
        self, directory: CacheDir, ids: set[str], attached: str | None, mine: OwnRecords
    ) -> None:
        """Remove these accounts' records and tokens from `directory` (files that are not
        there are not created)."""
        location = str(directory.path)
        try:
            if directory.signature(ACCOUNTS_NAME) is not None:
                update_records(
                    lambda: directory,
                    lambda records: [r for r in records if r.home_account_id not in ids],
                    mine,
                )
            _remove_stale_copies(directory, ids)
            if not any(directory.signature(n) for n in (PLAINTEXT_NAME, ENCRYPTED_NAME)):
                return
            for backend in stored_backends(directory, self.backends):
                location = backend.location
                if location != attached:  # else the live cache did it, under the same lock
                    remove_accounts(backend, ids)
        except (OSError, DamagedCache, CacheLocationError) as exc:
            why = "it could not be read" if isinstance(exc, DamagedCache) else failure_reason(exc)
            warn(
                f"nbauth could not remove the signed-out account from the saved sign-in cache "
                f"{location} ({why}). Delete that file to be sure no token of it is left there."
            )


def _remove_stale_copies(directory: CacheDir, ids: set[str]) -> None:
    """Delete the unreadable copies of the token cache that mention these accounts: they
    cannot be cleaned entry by entry, and nothing ever reads them."""
    if not directory.copies_of(PLAINTEXT_NAME):
        return  # without taking the lock, which creates the lock file
    with directory.locked():
        for name in directory.copies_of(PLAINTEXT_NAME):
            try:
                found = directory.read(name)
            except ValueError:
                continue  # not text: not a copy of a JSON cache
            if found is not None and any(i in found[0] for i in ids):
                directory.remove(name)
