"""Staying signed in across kernel restarts: opt-in, by named strategy.

Three strategies (`Persistence`), chosen per session (``Session(persistence=...)``,
``nbauth.login(persistence=...)``), per ``%azlogin --persist STRATEGY``, by
``c.LoginMagics.persist`` or by ``$NBAUTH_PERSIST``:

- ``none`` (the default): nothing is written anywhere; recommended on shared machines.
- ``read_write``: the msal token cache is saved (encrypted where the platform can; a plaintext
  0600 file only when allowed explicitly), plus a record of who signed in, so that after a
  restart ``%azlogin`` signs the same account in without asking.
- ``reauth``: only the record of who signed in is saved (no token): after a restart
  ``%azlogin`` asks again, with the account named.

Files live in ``$NBAUTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbauth``, else ``~/.cache/nbauth``;
see `nbauth._persistence_files` for how they are protected. The account record (``accounts.json``)
holds no secret: username, home account ID, authority, client ID, method, tenant.

This module is standard library only; the msal side is `nbauth._persistence_cache`, imported on
first sign-in.
"""

from __future__ import annotations

import copy
import enum
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base_errors import ConfigurationError, redact
from ._persistence_files import (
    ENCRYPTED_NAME,
    PLAINTEXT_NAME,
    CacheDir,
    CacheLocationError,
    DamagedCache,
    PersistenceWarning,
    warn,
)

if TYPE_CHECKING:
    from ._persistence_cache import PersistentTokenCache, TokenCacheBackend
    from ._signin import Account

__all__ = [
    "ACCOUNTS_NAME",
    "AccountRecord",
    "CacheLocationError",
    "ENV_ALLOW_UNENCRYPTED",
    "ENV_CACHE_DIR",
    "ENV_PERSIST",
    "Persistence",
    "PersistenceStatus",
    "PersistenceWarning",
    "Persister",
    "default_cache_dir",
]

ENV_PERSIST = "NBAUTH_PERSIST"
ENV_ALLOW_UNENCRYPTED = "NBAUTH_PERSIST_ALLOW_UNENCRYPTED"
ENV_CACHE_DIR = "NBAUTH_CACHE_DIR"
ACCOUNTS_NAME = "accounts.json"
# Enough for everyone one person signs in as; the oldest records go first.
_MAX_RECORDS = 20
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


def _env_strategy() -> tuple[Persistence | None, str | None]:
    """``$NBAUTH_PERSIST``: (the strategy, None), or (None, what is wrong with it)."""
    value = os.environ.get(ENV_PERSIST) or "none"
    try:
        return Persistence.parse(value), None
    except ConfigurationError:
        names = ", ".join(m.value for m in Persistence)
        return None, f"${ENV_PERSIST} must be one of {names}; got {_shown(value)}. {_CHOOSE_HERE}"


def _env_flag(name: str) -> tuple[bool, str | None]:
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
class AccountRecord:
    """Who signed in, remembered beside the cache. Never a secret."""

    username: str
    home_account_id: str
    authority: str
    """e.g. ``https://login.microsoftonline.com/organizations``."""
    client_id: str
    method: str
    tenant_id: str | None = None
    saved_at: float = 0.0

    @property
    def authority_host(self) -> str:
        return self.authority.rsplit("/", 1)[0]

    @property
    def tenant(self) -> str:
        return self.authority.rsplit("/", 1)[1]

    @classmethod
    def from_json(cls, data: Any) -> AccountRecord | None:
        if not isinstance(data, dict):
            return None
        try:
            record = cls(
                username=str(data["username"]),
                home_account_id=str(data["home_account_id"]),
                authority=str(data["authority"]),
                client_id=str(data["client_id"]),
                method=str(data.get("method") or "device_code"),
                tenant_id=str(data["tenant_id"]) if data.get("tenant_id") else None,
                saved_at=float(data.get("saved_at") or 0.0),
            )
        except (KeyError, TypeError, ValueError):
            return None
        if "/" not in record.authority or not record.authority.startswith("https://"):
            return None
        return record

    def same_sign_in(self, other: AccountRecord) -> bool:
        return (self.home_account_id, self.authority_host, self.client_id) == (
            other.home_account_id,
            other.authority_host,
            other.client_id,
        )


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


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, CacheLocationError) else type(exc).__name__


def _unusable(path: Path, exc: OSError) -> CacheLocationError:
    return CacheLocationError(
        f"nbauth cannot use the sign-in cache directory {path} ({type(exc).__name__}: "
        f"{exc.strerror or 'I/O error'}). Check that it is writable, or set NBAUTH_CACHE_DIR to "
        f"another directory, or sign in without persistence (`--persist none`)."
    )


class _Footprint:
    """Everything a session saved to, across its changes of persistence: sign-out cleans all of
    it, whatever the strategy is by then. Shared by all the persisters a session goes through."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # One CacheDir per directory: its lock is re-entrant only within the same object.
        self.directories: dict[Path, CacheDir] = {}
        self.backends: dict[str, TokenCacheBackend] = {}
        self.cache: PersistentTokenCache | None = None
        # This session's sign-ins, by home account ID, as recorded (until signed out).
        self.records: dict[str, AccountRecord] = {}


class Persister:
    """A session's persistence: the strategy, the directory, the account records, and the
    token cache it hands to msal. Opens nothing until asked.

    Settings left to the environment are read here, but a bad value is raised (naming the
    variable) only where it matters: `check` (signing in, the status), never when signing out.
    """

    def __init__(
        self,
        strategy: Persistence | str | None = None,
        *,
        allow_unencrypted: bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._strategy_given = strategy is not None
        self._strategy, self._strategy_problem = (
            (Persistence.parse(strategy), None) if strategy is not None else _env_strategy()
        )
        self._allow, self._allow_problem = (
            (bool(allow_unencrypted), None)
            if allow_unencrypted is not None
            else _env_flag(ENV_ALLOW_UNENCRYPTED)
        )
        self.cache_dir = _absolute(Path(cache_dir) if cache_dir else default_cache_dir())
        self._directory: CacheDir | None = None
        self._footprint = _Footprint()

    def __repr__(self) -> str:
        return f"<Persister {self._strategy or 'invalid'} {str(self.cache_dir)!r}>"

    def replaced(
        self,
        strategy: Persistence | str | None = None,
        *,
        allow_unencrypted: bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Persister:
        """This persister with some settings changed (None: kept), knowing all this one saved
        to. Raises `ConfigurationError` if a setting it needs is bad."""
        new = copy.copy(self)
        if strategy is not None:
            new._strategy_given = True
            new._strategy, new._strategy_problem = Persistence.parse(strategy), None
        if allow_unencrypted is not None:
            new._allow, new._allow_problem = bool(allow_unencrypted), None
        if cache_dir is not None:
            new.cache_dir = _absolute(Path(cache_dir))
        new._directory = None
        new.check()
        return new

    def check(self) -> None:
        """Raise the `ConfigurationError` of a bad environment setting this persister needs.

        A bad setting is read again each time, so that correcting it in the running kernel
        (``%env NBAUTH_PERSIST=reauth``) is enough; a good one stays as it was read."""
        if self._strategy_problem is not None:
            self._strategy, self._strategy_problem = _env_strategy()
        if self._allow_problem is not None:
            self._allow, self._allow_problem = _env_flag(ENV_ALLOW_UNENCRYPTED)
        if self._strategy_problem is not None:
            raise ConfigurationError(self._strategy_problem)
        needs_flag = self._strategy is Persistence.READ_WRITE or not self._strategy_given
        if self._allow_problem is not None and needs_flag:
            raise ConfigurationError(self._allow_problem)

    @property
    def strategy(self) -> Persistence:
        if self._strategy is None:
            self.check()
        assert self._strategy is not None
        return self._strategy

    @property
    def allow_unencrypted(self) -> bool:
        self.check()
        return self._allow

    @property
    def saves_records(self) -> bool:
        """False too while the strategy setting is bad: then nothing is saved."""
        return self._strategy in (Persistence.READ_WRITE, Persistence.REAUTH)

    @property
    def saves_tokens(self) -> bool:
        return self._strategy is Persistence.READ_WRITE

    def directory(self) -> CacheDir:
        """The checked cache directory (created 0700 on first use)."""
        if self._directory is None:
            self._directory = self._open_directory(self.cache_dir)
        return self._directory

    def _open_directory(self, path: Path) -> CacheDir:
        footprint = self._footprint
        with footprint.lock:
            directory = footprint.directories.get(path)
            if directory is None:
                try:
                    directory = CacheDir(path)
                except OSError as exc:
                    raise _unusable(path, exc) from None
                footprint.directories[path] = directory
            return directory

    # -- the token cache ---------------------------------------------------------------------

    def new_token_cache(self) -> PersistentTokenCache:
        """A token cache for the session's msal applications, saved if the strategy says so."""
        from ._persistence_cache import PersistentTokenCache

        self.check()
        cache = PersistentTokenCache()
        self.apply(cache)
        return cache

    def apply(self, cache: PersistentTokenCache) -> None:
        """Attach `cache` to disk (``read_write``) or detach it (otherwise)."""
        self.check()
        self._footprint.cache = cache
        cache.restored = self._restore_records
        if not self.saves_tokens:
            cache.detach()
            return
        from ._persistence_cache import announce, open_token_backend

        backend = open_token_backend(self.directory(), allow_unencrypted=self.allow_unencrypted)
        current = cache.backend
        if current is None or current.location != backend.location:
            try:
                cache.attach(backend)
            except OSError as exc:
                raise _unusable(self.cache_dir, exc) from None
        self._footprint.backends[backend.location] = cache.backend or backend
        announce(backend)

    def status(self, cache: Any = None) -> PersistenceStatus:
        self.check()
        backend = getattr(cache, "backend", None)
        problem = getattr(cache, "failure", None) if self.saves_tokens else None
        if self.strategy is Persistence.REAUTH:
            return PersistenceStatus(self.strategy, str(self.cache_dir / ACCOUNTS_NAME))
        if self.saves_tokens and backend is not None:
            return PersistenceStatus(
                self.strategy, backend.location, backend.is_encrypted, backend.storage
            )
        return PersistenceStatus(self.strategy, problem=problem)

    # -- who signed in -----------------------------------------------------------------------

    def remembered(
        self,
        *,
        username: str | None = None,
        authority_host: str | None = None,
        client_id: str | None = None,
    ) -> AccountRecord | None:
        """The newest remembered sign-in matching what is given (None if none or disabled)."""
        self.check()
        if not self.saves_records:
            return None
        directory = self.directory()
        with directory.locked():
            records = self._read_records(directory)
        for record in reversed(records):
            if username is not None and record.username.lower() != username.lower():
                continue
            if authority_host is not None and record.authority_host != authority_host:
                continue
            if client_id is not None and record.client_id != client_id:
                continue
            return record
        return None

    def remember(self, account: Account) -> None:
        """`account` is signed in (its tokens are in the session's msal cache): keep it in the
        saved cache whatever happens to the file, and record it as the newest sign-in. I/O
        problems warn; they never fail a sign-in."""
        footprint = self._footprint
        if footprint.cache is not None:
            footprint.cache.hold(account.home_account_id)
        if not account.client_id:
            return
        record = AccountRecord(
            username=account.username,
            home_account_id=account.home_account_id,
            authority=account.authority,
            client_id=account.client_id,
            method=account.method,
            tenant_id=account.tenant_id,
            saved_at=time.time(),
        )
        with footprint.lock:
            footprint.records[account.home_account_id] = record
        if self.saves_records:
            self._update(
                lambda records: [r for r in records if not r.same_sign_in(record)] + [record]
            )

    def _restore_records(self) -> None:
        """Record again this session's sign-ins that the record file lost (it was deleted or
        damaged along with the token cache, which the cache has just rewritten)."""
        if not self.saves_records:
            return
        with self._footprint.lock:
            mine = list(self._footprint.records.values())
        self._update(
            lambda records: (
                records + [r for r in mine if not any(r.same_sign_in(other) for other in records)]
            )
        )

    def forget(self, home_account_ids: set[str]) -> None:
        """Sign-out: remove these accounts from the session's msal cache, and their tokens and
        records from everything this session saved to, or its cache directory holds, whatever
        the strategy is now. Never creates anything; problems warn."""
        if not home_account_ids:
            return
        footprint = self._footprint
        with footprint.lock:
            for home_account_id in home_account_ids:
                footprint.records.pop(home_account_id, None)
        cache = footprint.cache
        attached = None
        if cache is not None:
            cache.forget(home_account_ids)
            attached = cache.backend.location if cache.backend is not None else None
        for directory in self._places_to_clean():
            self._forget_in(directory, home_account_ids, attached)

    def _places_to_clean(self) -> list[CacheDir]:
        with self._footprint.lock:
            known = set(self._footprint.directories)
        if self.cache_dir not in known and os.path.isdir(self.cache_dir):
            try:
                self._open_directory(self.cache_dir)
            except CacheLocationError:
                pass  # never used by this session, and not safe to open: leave it alone
        with self._footprint.lock:
            return list(self._footprint.directories.values())

    def _forget_in(self, directory: CacheDir, ids: set[str], attached: str | None) -> None:
        """Remove these accounts' records and tokens from `directory` (files that are not
        there are not created, nor is msal imported for them)."""
        location = str(directory.path)
        try:
            if directory.signature(ACCOUNTS_NAME) is not None:
                self._update(
                    lambda records: [r for r in records if r.home_account_id not in ids],
                    directory,
                )
            self._remove_stale_copies(directory, ids)
            if not any(directory.signature(n) for n in (PLAINTEXT_NAME, ENCRYPTED_NAME)):
                return
            from ._persistence_cache import remove_accounts, stored_backends

            for backend in stored_backends(directory, self._footprint.backends):
                location = backend.location
                if location != attached:  # else the live cache did it, under the same lock
                    remove_accounts(backend, ids)
        except (OSError, DamagedCache, CacheLocationError) as exc:
            why = "it could not be read" if isinstance(exc, DamagedCache) else _why(exc)
            warn(
                f"nbauth could not remove the signed-out account from the saved sign-in cache "
                f"{location} ({why}). Delete that file to be sure no token of it is left there."
            )

    @staticmethod
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

    def _update(self, change: Any, directory: CacheDir | None = None) -> None:
        try:
            directory = directory or self.directory()
            with directory.locked():
                records = self._read_records(directory)
                new = change(records)[-_MAX_RECORDS:]
                if new != records:
                    payload = {"version": 1, "accounts": [asdict(r) for r in new]}
                    directory.write(ACCOUNTS_NAME, json.dumps(payload, indent=1))
        except (OSError, CacheLocationError) as exc:
            warn(
                f"nbauth could not update the record of who signed in ({_why(exc)}); after a "
                f"kernel restart you may have to choose the account again."
            )

    def _read_records(self, directory: CacheDir) -> list[AccountRecord]:
        """The records in `directory` (call under its lock)."""
        try:
            found = directory.read(ACCOUNTS_NAME)
            if found is None:
                return []
            data = json.loads(found[0])
            items = data.get("accounts") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise ValueError("no account list")
        except CacheLocationError:
            raise
        except ValueError:
            return self._replace_damaged_records(directory)
        records = [AccountRecord.from_json(item) for item in items]
        return [r for r in records if r is not None]

    def _replace_damaged_records(self, directory: CacheDir) -> list[AccountRecord]:
        """Move a damaged record file aside; this kernel's own sign-ins are recorded again."""
        aside = directory.move_aside(ACCOUNTS_NAME)
        mine: list[AccountRecord] = []
        if directory is self._directory and self.saves_records:
            with self._footprint.lock:
                mine = list(self._footprint.records.values())
        where = f"{directory.file(ACCOUNTS_NAME)}, could not be read and was moved to {aside}"
        if not mine:
            warn(f"The record of who signed in, {where}. Run `%azlogin` to sign in again.")
            return []
        payload = {"version": 1, "accounts": [asdict(r) for r in mine]}
        try:
            directory.write(ACCOUNTS_NAME, json.dumps(payload, indent=1))
        except OSError:
            warn(f"The record of who signed in, {where}. Run `%azlogin` to sign in again.")
            return []
        warn(
            f"The record of who signed in, {where}; this kernel's sign-in is recorded there "
            f"again. Sign-ins recorded only by stopped kernels are lost (`%azlogin` signs in)."
        )
        return mine
