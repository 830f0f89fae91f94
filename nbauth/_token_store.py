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

Every acquisition runs in a thread of its own that callers wait on (`nbauth._flight`): the stop
button interrupts a wait, never the frames that hold a refresh token, and async callers await the
same acquisition without occupying a thread.

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
from ._flight import Flight, scrubbed

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
        self._flights: dict[Hashable, Flight[StoredToken]] = {}
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
        outcome = self.begin(key, acquire, bypass=bypass)
        return outcome if isinstance(outcome, StoredToken) else outcome.wait()

    def begin(
        self, key: Hashable, acquire: Acquire, *, bypass: bool = False
    ) -> StoredToken | Flight[StoredToken]:
        """`get` without waiting: the token if a caller may use it now, else the acquisition
        in flight for `key` (started here if there is none) that will bring it.

        The acquisition runs in a thread of its own (see `nbauth._flight`): the stop button
        interrupts a caller's wait, never msal's frames, and an interrupted wait leaves the
        acquisition to finish and store its token for the next call.
        """
        with self._lock:
            entry = None if bypass else self._entries.get(key)
            now = self._clock()
            if entry is not None and now < entry.next_attempt_at:
                return entry
            still_valid = entry is not None and now < entry.expires_on
            flight = self._flights.get(key)
            if flight is not None:
                # Someone is refreshing: a still-valid token serves meanwhile.
                return entry if still_valid and entry is not None else flight
            flight = self._flights[key] = Flight()
            generation = self._generation
        kept = entry if still_valid else None
        threading.Thread(
            target=self._fly,
            args=(key, flight, acquire, entry is not None, kept, generation),
            name="nbauth-token",
            daemon=True,
        ).start()
        return flight

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

    def _fly(
        self,
        key: Hashable,
        flight: Flight[StoredToken],
        acquire: Acquire,
        force_refresh: bool,
        still_valid: StoredToken | None,
        generation: int,
    ) -> None:
        """One acquisition, in its own thread; always settles `flight`."""
        try:
            try:
                asked_at = self._clock()
                stored = self._stored(acquire(force_refresh), asked_at)
            except BaseException as exc:  # noqa: BLE001 - every failure settles the flight
                if still_valid is not None:
                    flight.finish(
                        result=self._keep_after_failed_refresh(key, still_valid, exc, generation)
                    )
                    return
                with self._lock:
                    self._flights.pop(key, None)
                flight.finish(error=scrubbed(exc))
                return
            with self._lock:
                self._flights.pop(key, None)
                if generation == self._generation:
                    self._entries[key] = stored
            flight.finish(result=stored)
        finally:
            if not flight.done():  # keeping the old token failed: waiters must still wake
                with self._lock:
                    self._flights.pop(key, None)
                flight.finish(error=RuntimeError("The token request ended unexpectedly."))

    def _stored(self, fresh: FreshToken, asked_at: float) -> StoredToken:
        """`fresh` as stored: its lifetime clamped, a nonsense refresh time replaced by the
        default. Raises for a token that is expired or has no lifetime: it is never handed
        out (the caller keeps a still-valid older token, or reports the error).

        Its lifetime counts from `asked_at`, when the request left, not from when the answer
        was read: the service started the clock in between, and on a loaded machine reading
        the answer can take seconds. Counted later, the token would be held past its end."""
        now = asked_at
        expires_in = _usable_lifetime(fresh.expires_in)
        expires_on = now + expires_in
        refresh_in = fresh.refresh_in
        if refresh_in is not None and 0 < refresh_in < expires_in:  # False for NaN too
            refresh_on = now + refresh_in
        else:
            refresh_on = expires_on - min(self._refresh_margin_s, expires_in / 2)
        return StoredToken(fresh.token, expires_on, refresh_on, next_attempt_at=refresh_on)

    def _keep_after_failed_refresh(
        self, key: Hashable, entry: StoredToken, exc: BaseException, generation: int
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
            redact(exc).splitlines()[0][:300] if str(exc) else "no details",
            max(0, int(entry.expires_on - now)),
            max(0, int(retry_at - now)),
        )
        return kept


def _usable_lifetime(expires_in: object) -> float:
    """`expires_in` capped at `MAX_TOKEN_LIFETIME_S`; raises `AuthenticationError` if the token
    has expired or the value is no number. Sources check their answers with better words; this
    is the last line, for every source."""
    from ._token_answers import MAX_TOKEN_LIFETIME_S, MIN_TOKEN_LIFETIME_S, shown

    lifetime = None if isinstance(expires_in, bool) else expires_in
    if isinstance(lifetime, (int, float)) and lifetime >= MIN_TOKEN_LIFETIME_S:  # not NaN
        return min(float(lifetime), float(MAX_TOKEN_LIFETIME_S))
    from ._errors import AuthenticationError  # Lazy load: azure-core, loaded by every source

    raise AuthenticationError(
        f"The token source gave a token that cannot be used (expires_in={shown(expires_in)}: "
        f"expired, or no lifetime). Try again; if it persists, sign in again with `%azlogin`."
    )
