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

Files live in ``$NBAUTH_CACHE_DIR``, else ``$XDG_CACHE_HOME/nbauth``, else ``~/.cache/nbauth``.
`Persister`, here, is a session's persistence; the rest is beside it:

- `nbauth._persistence_strategy`: the strategies and the environment settings that choose them;
- `nbauth._persistence_files`: the cache directory and how its files are protected;
- `nbauth._persistence_records`: the record of who signed in (``accounts.json``, no secret);
- `nbauth._persistence_backends`: where a token cache is saved (encrypted store or file);
- `nbauth._persistence_cache`: the msal token cache kept in step with its saved copy (msal:
  imported on first sign-in);
- `nbauth._persistence_footprint`: everything a session saved, which its sign-out cleans.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._base_errors import ConfigurationError
from ._persistence_backends import announce, open_token_backend
from ._persistence_files import (
    CacheDir,
    CacheLocationError,
    PersistenceWarning,
    failure_reason,
    unusable_directory,
    warn,
)
from ._persistence_footprint import Footprint
from ._persistence_records import ACCOUNTS_NAME, AccountRecord, read_records, update_records
from ._persistence_strategy import (
    ENV_ALLOW_UNENCRYPTED,
    ENV_CACHE_DIR,
    ENV_PERSIST,
    Persistence,
    PersistenceStatus,
    default_cache_dir,
    env_flag,
    env_strategy,
)

# Tenants that refused device code (Conditional Access): a note for the next kernel.
REFUSALS_NAME = "device_code_refused.json"

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


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


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
            (Persistence.parse(strategy), None) if strategy is not None else env_strategy()
        )
        self._allow, self._allow_problem = (
            (bool(allow_unencrypted), None)
            if allow_unencrypted is not None
            else env_flag(ENV_ALLOW_UNENCRYPTED)
        )
        self.cache_dir = _absolute(Path(cache_dir) if cache_dir else default_cache_dir())
        self._directory: CacheDir | None = None
        self._footprint = Footprint()

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
            self._strategy, self._strategy_problem = env_strategy()
        if self._allow_problem is not None:
            self._allow, self._allow_problem = env_flag(ENV_ALLOW_UNENCRYPTED)
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
            self._directory = self._footprint.open_directory(self.cache_dir)
        return self._directory

    # -- the token cache ---------------------------------------------------------------------

    def new_token_cache(self) -> PersistentTokenCache:
        """A token cache for the session's msal applications, saved if the strategy says so."""
        # Lazy load: the cache is an msal class, and msal is imported on first sign-in only.
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
        backend = open_token_backend(self.directory(), allow_unencrypted=self.allow_unencrypted)
        current = cache.backend
        if current is None or current.location != backend.location:
            try:
                cache.attach(backend)
            except OSError as exc:
                raise unusable_directory(self.cache_dir, exc) from None
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
            records = read_records(directory, self._own_records_for)
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
        footprint.keep_record(record)
        if self.saves_records:
            self._update(
                lambda records: [r for r in records if not r.same_sign_in(record)] + [record]
            )

    def _restore_records(self) -> None:
        """Record again this session's sign-ins that the record file lost (it was deleted or
        damaged along with the token cache, which the cache has just rewritten)."""
        if not self.saves_records:
            return
        mine = self._footprint.own_records()
        self._update(
            lambda records: (
                records + [r for r in mine if not any(r.same_sign_in(other) for other in records)]
            )
        )

    def forget(self, home_account_ids: set[str]) -> None:
        """Sign-out: remove these accounts from the session's msal cache, and their tokens and
        records from everything this session saved to, or its cache directory holds, whatever
        the strategy is now. Never creates anything; problems warn."""
        if home_account_ids:
            self._footprint.forget(home_account_ids, self.cache_dir, self._own_records_for)

    def refused_tenants(self) -> set[str]:
        """Tenants an earlier kernel found refusing device code (`_methods._paste_back`)."""
        if not self.saves_records:
            return set()
        try:
            found = self.directory().read(REFUSALS_NAME)
            tenants = json.loads(found[0]).get("device_code_refused") if found else []
        except (OSError, ValueError, AttributeError, CacheLocationError):
            return set()  # a note, not a sign-in: a damaged one is as good as none
        return {t for t in tenants if isinstance(t, str)} if isinstance(tenants, list) else set()

    def note_refusal(self, tenant: str) -> None:
        """Remember for later kernels that `tenant` refuses device code (no secret in it)."""
        if not self.saves_records:
            return
        try:
            directory = self.directory()
            with directory.locked():
                tenants = sorted(self.refused_tenants() | {tenant})
                directory.write(REFUSALS_NAME, json.dumps({"device_code_refused": tenants}))
        except (OSError, CacheLocationError) as exc:
            warn(f"nbauth could not note that {tenant} refuses device code: {failure_reason(exc)}.")

    def _update(self, change: Any) -> None:
        update_records(self.directory, change, self._own_records_for)

    def _own_records_for(self, directory: CacheDir) -> list[AccountRecord]:
        """This kernel's sign-ins, to record again in `directory` if its record file was
        damaged: only in the directory this persister records in now, if it records."""
        if directory is self._directory and self.saves_records:
            return self._footprint.own_records()
        return []
