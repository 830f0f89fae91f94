"""Who signed in, remembered beside the token cache: the account record file.

``accounts.json`` in the cache directory holds no secret: username, home account ID,
authority, client ID, method, tenant, for the newest `_MAX_RECORDS` sign-ins. It is read and
rewritten whole under the directory's lock. A damaged file is moved aside; the kernel's own
sign-ins (``mine``) are written in its place, since they are the ones it can vouch for.
Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ._authority import Authority
from ._persistence_files import CacheDir, CacheLocationError, failure_reason, warn

__all__ = ["ACCOUNTS_NAME", "AccountRecord", "read_records", "update_records"]

ACCOUNTS_NAME = "accounts.json"
# Enough for everyone one person signs in as; the oldest records go first.
_MAX_RECORDS = 20

Records = list["AccountRecord"]
OwnRecords = Callable[[CacheDir], Records]
"""This kernel's sign-ins, to write back into the directory's record file if it was damaged."""


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
        return Authority.parse(self.authority).host

    @property
    def tenant(self) -> str:
        return Authority.parse(self.authority).tenant

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


def update_records(
    directory: Callable[[], CacheDir],
    change: Callable[[Records], Records],
    mine: OwnRecords,
) -> None:
    """Rewrite the record file of `directory()` as `change` makes it (if it changes anything).
    I/O problems warn; they never fail a sign-in or a sign-out."""
    try:
        where = directory()
        with where.locked():
            records = read_records(where, mine)
            new = change(records)[-_MAX_RECORDS:]
            if new != records:
                _write(where, new)
    except (OSError, CacheLocationError) as exc:
        warn(
            f"nbauth could not update the record of who signed in ({failure_reason(exc)}); after "
            f"a kernel restart you may have to choose the account again."
        )


def read_records(directory: CacheDir, mine: OwnRecords) -> Records:
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
        return _replace_damaged(directory, mine(directory))
    records = [AccountRecord.from_json(item) for item in items]
    return [r for r in records if r is not None]


def _write(directory: CacheDir, records: Records) -> None:
    payload = {"version": 1, "accounts": [asdict(r) for r in records]}
    directory.write(ACCOUNTS_NAME, json.dumps(payload, indent=1))


def _replace_damaged(directory: CacheDir, mine: Records) -> Records:
    """Move a damaged record file aside; this kernel's own sign-ins are recorded again."""
    aside = directory.move_aside(ACCOUNTS_NAME)
    where = f"{directory.file(ACCOUNTS_NAME)}, could not be read and was moved to {aside}"
    if not mine:
        warn(f"The record of who signed in, {where}. Run `%azlogin` to sign in again.")
        return []
    try:
        _write(directory, mine)
    except OSError:
        warn(f"The record of who signed in, {where}. Run `%azlogin` to sign in again.")
        return []
    warn(
        f"The record of who signed in, {where}; this kernel's sign-in is recorded there "
        f"again. Sign-ins recorded only by stopped kernels are lost (`%azlogin` signs in)."
    )
    return mine
