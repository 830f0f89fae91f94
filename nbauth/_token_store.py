"""In-memory access tokens with proactive, single-flight refresh.

Azure SDK clients call ``get_token`` before every request, often from many threads. The store
makes that a dict lookup and a clock comparison (no lock, no msal call) for as long as a token
is fresh, and decides in one place when and how to go to the network:

- fresh (before its refresh time): returned as is;
- in the refresh window (after ``refresh_on``, or ``expires_on - min(300 s, lifetime / 2)``, but
  before expiry): ONE caller refreshes; everyone else gets the still-valid token at once. If that
  early refresh fails, the still-valid token keeps being returned and the next attempt waits at
  least `retry_delay_s` (30 s): a flaky network must not turn every call into a request;
- expired or missing: every caller waits for ONE acquisition, whose failure they all see.

The clock is injectable so tests can move time; acquisitions themselves are real.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import NamedTuple

from ._base_errors import redact

__all__ = ["FreshToken", "StoredToken", "TokenKey", "TokenStore"]

_LOGGER = logging.getLogger("nbauth")

DEFAULT_REFRESH_MARGIN_S = 300.0
DEFAULT_RETRY_DELAY_S = 30.0


class TokenKey(NamedTuple):
    """What changes a token: the same key means the same token may be reused."""

    scopes: tuple[str, ...]
    """Sorted."""
    tenant: str
    """'' for the account's own sign-in authority."""
    claims: str
    cae: bool
    account: str
    """The account's home_account_id (or another stable identity id)."""


@dataclass(frozen=True)
class FreshToken:
    """What an acquisition returns; times are relative so the store can apply its own clock."""

    token: str = field(repr=False)
    expires_in: float
    refresh_in: float | None = None


@dataclass(frozen=True)
class StoredToken:
    token: str = field(repr=False)
    expires_on: float
    refresh_on: float
    next_attempt_at: float
    """Before this, callers get this token without a thought; normally `refresh_on`, later
    after a failed early refresh."""


class _Flight:
    """One in-flight acquisition that other callers can wait on."""

    __slots__ = ("_done", "result", "error", "retry")

    def __init__(self) -> None:
        self._done = threading.Event()
        self.result: StoredToken | None = None
        self.error: BaseException | None = None
        self.retry = False

    def finish(
        self,
        result: StoredToken | None = None,
        error: BaseException | None = None,
        retry: bool = False,
    ) -> None:
        self.result, self.error, self.retry = result, error, retry
        self._done.set()

    def wait(self) -> None:
        self._done.wait()


Acquire = Callable[[bool], FreshToken]
"""Called with ``force_refresh``: True when the store holds a token for the key but wants a
new one (the library's own cache may still consider the old one valid)."""


class TokenStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = DEFAULT_REFRESH_MARGIN_S,
        retry_delay_s: float = DEFAULT_RETRY_DELAY_S,
    ) -> None:
        self._clock = clock
        self._refresh_margin_s = refresh_margin_s
        self._retry_delay_s = retry_delay_s
        self._entries: dict[Hashable, StoredToken] = {}
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()
        # Bumped by clear(): an acquisition that started before a sign-out must not store its
        # token afterwards.
        self._generation = 0

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<TokenStore entries={len(self._entries)} in_flight={len(self._flights)}>"

    def expiries(self) -> list[tuple[Hashable, float]]:
        """(key, expires_on) of every stored token, soonest first. Never the tokens."""
        entries = list(self._entries.items())
        return sorted(((key, entry.expires_on) for key, entry in entries), key=lambda kv: kv[1])

    def peek(self, key: Hashable) -> StoredToken | None:
        """The token for `key` if it needs no refresh yet, else None. Never blocks."""
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry.next_attempt_at:
            return entry
        return None

    def get(self, key: Hashable, acquire: Acquire, *, bypass: bool = False) -> StoredToken:
        """The token for `key`, acquiring or refreshing it as the module docstring describes.

        ``bypass``: ignore any stored token and acquire (a claims challenge means the resource
        rejected the token it had); concurrent identical calls still share one acquisition.
        """
        if not bypass:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry.next_attempt_at:
                return entry
        while True:
            outcome = self._slow_get(key, acquire, bypass)
            if outcome is not None:
                return outcome

    def clear(self, predicate: Callable[[Hashable], bool] | None = None) -> int:
        """Drop stored tokens (those whose key matches `predicate`, or all); returns how many."""
        with self._lock:
            self._generation += 1
            if predicate is None:
                count = len(self._entries)
                self._entries.clear()
                return count
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    # -- the slow path ----------------------------------------------------------------------

    def _slow_get(self, key: Hashable, acquire: Acquire, bypass: bool) -> StoredToken | None:
        with self._lock:
            entry = None if bypass else self._entries.get(key)
            now = self._clock()
            if entry is not None and now < entry.next_attempt_at:
                return entry
            still_valid = entry is not None and now < entry.expires_on
            flight = self._flights.get(key)
            if flight is not None:
                if still_valid:
                    return entry  # someone is refreshing; this one is still good
                leader = False
            else:
                flight = self._flights[key] = _Flight()
                leader = True
            generation = self._generation

        if not leader:
            flight.wait()
            if flight.retry:
                return None  # the leader was interrupted; try again (maybe as the leader)
            if flight.error is not None:
                raise flight.error
            return flight.result

        try:
            fresh = acquire(entry is not None)
        except Exception as exc:
            if still_valid:
                assert entry is not None
                kept = self._keep_after_failed_refresh(key, entry, exc, generation)
                flight.finish(result=kept)
                return kept
            with self._lock:
                self._flights.pop(key, None)
            flight.finish(error=exc)
            raise
        except BaseException:
            # KeyboardInterrupt / SystemExit belong to the thread that got them; the others
            # start over.
            with self._lock:
                self._flights.pop(key, None)
            flight.finish(retry=True)
            raise

        stored = self._stored(fresh)
        with self._lock:
            self._flights.pop(key, None)
            if generation == self._generation:
                self._entries[key] = stored
        flight.finish(result=stored)
        return stored

    def _stored(self, fresh: FreshToken) -> StoredToken:
        now = self._clock()
        expires_on = now + fresh.expires_in
        if fresh.refresh_in is not None:
            refresh_on = now + fresh.refresh_in
        else:
            refresh_on = expires_on - min(self._refresh_margin_s, fresh.expires_in / 2)
        refresh_on = min(refresh_on, expires_on)
        return StoredToken(fresh.token, expires_on, refresh_on, next_attempt_at=refresh_on)

    def _keep_after_failed_refresh(
        self, key: Hashable, entry: StoredToken, exc: Exception, generation: int
    ) -> StoredToken:
        now = self._clock()
        retry_at = min(now + self._retry_delay_s, entry.expires_on)
        kept = StoredToken(entry.token, entry.expires_on, entry.refresh_on, retry_at)
        with self._lock:
            self._flights.pop(key, None)
            if generation == self._generation:
                self._entries[key] = kept
        _LOGGER.warning(
            "Could not refresh an access token early (%s: %s). Still using the current one, "
            "which is valid for %d more seconds; next attempt in %d seconds.",
            type(exc).__name__,
            redact(exc).splitlines()[0] if str(exc) else "no details",
            max(0, int(entry.expires_on - now)),
            max(0, int(retry_at - now)),
        )
        return kept
