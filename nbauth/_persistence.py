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

import enum
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base_errors import ConfigurationError
from ._persistence_files import CacheDir, CacheLocationError, PersistenceWarning, warn

if TYPE_CHECKING:
    from ._persistence_cache import PersistentTokenCache
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
            f"{what} must be one of {', '.join(m.value for m in cls)}; got {str(value)[:40]!r}."
        )


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"${name} must be 1 or 0 (true/false, yes/no, on/off).")


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


def _unusable(path: Path, exc: OSError) -> CacheLocationError:
    return CacheLocationError(
        f"nbauth cannot use the sign-in cache directory {path} ({type(exc).__name__}: "
        f"{exc.strerror or 'I/O error'}). Check that it is writable, or set NBAUTH_CACHE_DIR to "
        f"another directory, or sign in without persistence (`--persist none`)."
    )


class Persister:
    """A session's persistence: the strategy, the directory, the account records, and the
    token cache it hands to msal. Opens nothing until asked."""

    def __init__(
        self,
        strategy: Persistence | str | None = None,
        *,
        allow_unencrypted: bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.strategy = (
            Persistence.parse(strategy)
            if strategy is not None
            else Persistence.parse(os.environ.get(ENV_PERSIST) or "none", f"${ENV_PERSIST}")
        )
        self.allow_unencrypted = (
            bool(allow_unencrypted)
            if allow_unencrypted is not None
            else _env_flag(ENV_ALLOW_UNENCRYPTED)
        )
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._directory: CacheDir | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Persister {self.strategy} {str(self.cache_dir)!r}>"

    @property
    def saves_records(self) -> bool:
        return self.strategy is not Persistence.NONE

    @property
    def saves_tokens(self) -> bool:
        return self.strategy is Persistence.READ_WRITE

    def directory(self) -> CacheDir:
        """The checked cache directory (created 0700 on first use)."""
        with self._lock:
            if self._directory is None:
                try:
                    self._directory = CacheDir(self.cache_dir)
                except OSError as exc:
                    raise _unusable(self.cache_dir, exc) from None
            return self._directory

    # -- the token cache ---------------------------------------------------------------------

    def new_token_cache(self) -> PersistentTokenCache:
        """A token cache for the session's msal applications, saved if the strategy says so."""
        from ._persistence_cache import PersistentTokenCache

        cache = PersistentTokenCache()
        self.apply(cache)
        return cache

    def apply(self, cache: PersistentTokenCache) -> None:
        """Attach `cache` to disk (``read_write``) or detach it (otherwise)."""
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
        announce(backend)

    def status(self, cache: Any = None) -> PersistenceStatus:
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
        """Record `account` as the newest sign-in. I/O problems warn; they never fail a sign-in."""
        if not self.saves_records or not account.client_id:
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
        self._update(lambda records: [r for r in records if not r.same_sign_in(record)] + [record])

    def forget(self, home_account_ids: set[str] | None = None) -> None:
        """Drop the records of these accounts (None: every record)."""
        if not self.saves_records:
            return
        self._update(
            lambda records: (
                []
                if home_account_ids is None
                else [r for r in records if r.home_account_id not in home_account_ids]
            )
        )

    def _update(self, change: Any) -> None:
        try:
            directory = self.directory()
            with directory.locked():
                records = self._read_records(directory)
                new = change(records)[-_MAX_RECORDS:]
                if new != records:
                    payload = {"version": 1, "accounts": [asdict(r) for r in new]}
                    directory.write(ACCOUNTS_NAME, json.dumps(payload, indent=1))
        except (OSError, CacheLocationError) as exc:
            why = str(exc) if isinstance(exc, CacheLocationError) else type(exc).__name__
            warn(
                f"nbauth could not update the record of who signed in ({why}); after a kernel "
                f"restart you may have to choose the account again."
            )

    @staticmethod
    def _read_records(directory: CacheDir) -> list[AccountRecord]:
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
            aside = directory.move_aside(ACCOUNTS_NAME)
            warn(
                f"The record of who signed in, {directory.file(ACCOUNTS_NAME)}, could not be "
                f"read and was moved to {aside}. Run `%azlogin` to sign in again."
            )
            return []
        records = [AccountRecord.from_json(item) for item in items]
        return [r for r in records if r is not None]
