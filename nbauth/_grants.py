"""Worker grants: the notebook's access tokens shared with its compute, kept fresh by the kernel.

A grant is (the account, a few scopes, an `Engine`). `Grants`, one per session (`grants_for`),
makes them, keeps their tokens fresh and ends them:

- the tokens come from the session's own token path (one acquisition in flight per scope),
  first in the cell that makes the credential, so a problem shows there and not on a worker;
- one daemon thread wakes at the soonest refresh time of any grant, refreshes (ahead of expiry,
  single flight: one request per scope per cycle, however many workers) and pushes the new
  tokens to the engine and into this process's registry. Workers never call Entra;
- the account's sign-out ends its grants at once: every engine is told (waiting up to
  `END_WAIT_S` for them), and the next ``get_token`` anywhere says the notebook signed out.
  A grant of an account that is no longer the current one ends at its next refresh.

Refresh tokens never leave the kernel: an engine only ever sees access tokens.
"""

from __future__ import annotations

import logging
import secrets
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from . import _worker_tokens
from ._base_errors import redact
from ._errors import AuthenticationRequired
from ._grant_dask import DaskEngine, default_dask_client
from ._grant_engine import Engine, PushedToken, Source
from ._grant_relay import Relay, RelayEngine
from ._labels import format_time

if TYPE_CHECKING:
    from ._session import Session
    from ._signin import Account
    from ._token_store import StoredToken

__all__ = ["REASON_SIGNED_OUT", "Grant", "GrantSummary", "Grants", "grant_summaries", "grants_for"]

_LOGGER = logging.getLogger("nbauth")

REASON_SIGNED_OUT = "The notebook signed out"
REASON_SWITCHED = "The notebook switched to another account"
REASON_ENGINE_GONE = "The notebook's Dask client closed"
RETRY_S = 30.0
"""After a failed refresh or push, the next attempt (workers keep the still-valid token)."""
END_WAIT_S = 1.5
"""How long a sign-out waits for every engine to hear of it."""
_MIN_GAP_S = 0.25  # never loop faster than this while another caller's refresh is in flight
_MAX_SLEEP_S = 30.0
_GROUP_S = 2.0


@dataclass(eq=False)
class Grant:
    id: str
    scopes: tuple[str, ...]
    account_id: str
    engine: Engine
    source: Source = field(repr=False)
    tokens: dict[str, PushedToken] = field(default_factory=dict, repr=False)
    due: float = 0.0
    """When to refresh next (the session clock)."""
    refreshes: int = 0
    """Refreshed tokens pushed since the first ones."""
    ended: str | None = None
    problem: str | None = None
    """What went wrong last (a failed refresh or push), for ``%azwhoami``."""


@dataclass(frozen=True)
class GrantSummary:
    """A grant as ``%azwhoami`` shows it: no token, no secret."""

    scopes: tuple[str, ...]
    where: str
    expires_on: float | None = None
    refreshes: int | None = 0
    """Refreshed tokens pushed; None where nothing is pushed (the export)."""
    problem: str | None = None

    def row(self) -> tuple[str, str]:
        parts = [self.where]
        if self.expires_on is not None:
            parts.append(f"token valid until {format_time(self.expires_on)}")
        if self.refreshes is not None:
            plural = "es" if self.refreshes != 1 else ""
            parts.append(f"{self.refreshes} refresh{plural} pushed")
        if self.problem:
            parts.append(self.problem)
        return " ".join(self.scopes), "; ".join(parts)


class Shared(Protocol):
    """Something else the session shares through the relay (the identity export)."""

    def end(self, reason: str) -> None: ...

    def summary(self) -> GrantSummary: ...


_registry: weakref.WeakKeyDictionary[Any, Grants] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def grants_for(session: Session) -> Grants:
    """The session's `Grants` (made on first use)."""
    with _registry_lock:
        found = _registry.get(session)
        if found is None:
            found = _registry[session] = Grants(session)
        return found


def grant_summaries(session: Session) -> tuple[GrantSummary, ...]:
    """What the session shares, for ``%azwhoami``; () if it never shared anything."""
    found = _registry.get(session)
    return found.summaries() if found is not None else ()


class Grants:
    """See the module docstring."""

    def __init__(self, session: Session) -> None:
        self._session = weakref.ref(session)
        self._clock = session.tokens.store.clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._grants: list[Grant] = []
        self._relay: Relay | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.export: Shared | None = None
        """The identity export (`nbauth._identity_export`), while it is on."""
        session.add_logout_listener(self._logged_out)
        weakref.finalize(session, self.close)

    def __repr__(self) -> str:
        return f"<Grants {len(self._grants)} active>"

    def relay(self) -> Relay:
        """The session's loopback relay (started on first use)."""
        with self._lock:
            if self._relay is None or self._relay.closed:
                self._relay = Relay()
            return self._relay

    def grant(self, scopes: tuple[str, ...], dask_client: Any = None) -> Grant:
        """A grant of `scopes` for the current account: through Dask if ``dask_client`` (default:
        the notebook's current Dask client) exists, else the relay (also ``dask_client=False``).
        The same account, scopes and engine give the same grant."""
        session = self._live_session()
        if session.account is None and session.pending is None:
            raise AuthenticationRequired(
                "Nobody is signed in in this kernel, so there is nothing to share with workers. "
                "Run `%azlogin` (or `nbauth.login()`) first, then make the worker credential."
            )
        engine = self._engine(dask_client)
        tokens, due = self._fetch(session, scopes, interactive=True)
        account = session.account
        if account is None:
            raise AuthenticationRequired()
        with self._lock:
            for grant in self._grants:
                if (grant.account_id, grant.scopes) == (account.home_account_id, scopes) and (
                    grant.engine.key == engine.key and grant.engine.alive()
                ):
                    return grant
        grant_id = secrets.token_hex(8)
        grant = Grant(
            grant_id, scopes, account.home_account_id, engine, engine.open(grant_id, scopes)
        )
        self._push(grant, tokens)
        grant.due = due
        with self._lock:
            self._grants.append(grant)
            self._start_keeper()
            self._wake.notify_all()
        return grant

    def summaries(self) -> tuple[GrantSummary, ...]:
        with self._lock:
            grants = list(self._grants)
        out = [
            GrantSummary(
                g.scopes,
                g.engine.describe(),
                min((t.expires_on for t in g.tokens.values()), default=None),
                g.refreshes,
                g.problem,
            )
            for g in grants
        ]
        export = self.export
        if export is not None:
            out.append(export.summary())
        return tuple(out)

    def close(self) -> None:
        """Stop refreshing and stop the relay (the session is gone)."""
        with self._lock:
            self._closed = True
            relay, self._relay = self._relay, None
            self._wake.notify_all()
        if relay is not None:
            relay.close()

    # -- tokens --------------------------------------------------------------------------------

    def _live_session(self) -> Session:
        session = self._session()
        if session is None:
            raise AuthenticationRequired("This kernel's session is gone; sign in again.")
        return session

    def _engine(self, dask_client: Any) -> Engine:
        if dask_client is False:
            return RelayEngine(self.relay())
        client = dask_client if dask_client is not None else default_dask_client()
        return RelayEngine(self.relay()) if client is None else DaskEngine(client)

    @staticmethod
    def _fetch(
        session: Session, scopes: tuple[str, ...], *, interactive: bool
    ) -> tuple[dict[str, PushedToken], float]:
        """The current tokens for `scopes` and when the soonest is due for a refresh. In the
        keeper's thread no inline sign-in card may appear (``get``, not ``token``)."""
        path = session.tokens
        tokens: dict[str, PushedToken] = {}
        entries = []
        for scope in scopes:
            if interactive:
                entry = path.token((scope,))
            else:
                entry = path.get((scope,), None, None, False)
            tokens[scope] = PushedToken(entry.token, entry.expires_on, entry.refresh_on)
            entries.append(entry)
        return tokens, _due(entries)

    @staticmethod
    def _push(grant: Grant, tokens: Mapping[str, PushedToken]) -> None:
        grant.engine.push(grant.id, tokens)
        # This process too: a worker credential used in the kernel itself needs no relay.
        _worker_tokens.install(grant.id, {scope: token.wire() for scope, token in tokens.items()})
        grant.tokens = dict(tokens)

    # -- the keeper thread ---------------------------------------------------------------------

    def _start_keeper(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._keep, name="nbauth-grants", daemon=True)
            self._thread.start()

    def _due(self) -> list[Grant] | None:
        """Wait until some grant is due; those grants, or None once closed."""
        with self._lock:
            while not self._closed:
                now = self._clock()
                due = [g for g in self._grants if g.due <= now]
                if due:
                    return due
                soonest = min((g.due for g in self._grants), default=now + _MAX_SLEEP_S)
                # A little after: the token store hands out the old token until exactly then.
                self._wake.wait(min(soonest - now + 0.05, _MAX_SLEEP_S))
            return None

    def _keep(self) -> None:
        while (due := self._due()) is not None:
            for grant in due:
                try:
                    self._refresh(grant)
                except Exception:  # noqa: BLE001 - the keeper must outlive any one grant
                    _LOGGER.warning("Refreshing a worker grant failed.", exc_info=True)
                    grant.due = self._clock() + RETRY_S

    def _refresh(self, grant: Grant) -> None:
        session = self._session()
        if session is None:
            self.close()
            return
        account = session.account
        if account is None or account.home_account_id != grant.account_id:
            # Signed out: the logout listener ends it. Another account: it ends here.
            reason = REASON_SIGNED_OUT if account is None else REASON_SWITCHED
            self._end([grant], reason)
            return
        if not grant.engine.alive():
            self._end([grant], REASON_ENGINE_GONE)
            return
        try:
            tokens, due = self._fetch(session, grant.scopes, interactive=False)
        except Exception as exc:  # noqa: BLE001 - shown by %azwhoami; workers keep valid tokens
            grant.problem = f"last refresh failed: {_one_line(exc)}"
            grant.due = self._clock() + RETRY_S
            return
        if any(grant.tokens.get(s, None) != t for s, t in tokens.items()):
            try:
                self._push(grant, tokens)
            except Exception as exc:  # noqa: BLE001 - an unreachable cluster
                grant.problem = f"last push failed: {_one_line(exc)}"
                grant.due = self._clock() + RETRY_S
                return
            grant.refreshes += 1
            grant.problem = None
        grant.due = max(due, self._clock() + _MIN_GAP_S)

    # -- the end -------------------------------------------------------------------------------

    def _logged_out(self, account: Account | None) -> None:
        with self._lock:
            doomed = [
                g
                for g in self._grants
                if account is None or g.account_id == account.home_account_id
            ]
            export, self.export = self.export, None
        if export is not None:
            export.end(REASON_SIGNED_OUT)
        self._end(doomed, REASON_SIGNED_OUT)

    def _end(self, grants: list[Grant], reason: str) -> None:
        """End `grants`: here at once, on every engine within `END_WAIT_S` if it can."""
        with self._lock:
            self._grants = [g for g in self._grants if g not in grants]
        tellers = []
        for grant in grants:
            grant.ended = reason
            grant.tokens = {}
            _worker_tokens.end(grant.id, reason)
            teller = threading.Thread(
                target=_tell_end, args=(grant, reason), name="nbauth-grant-end", daemon=True
            )
            teller.start()
            tellers.append(teller)
        deadline = self._clock() + END_WAIT_S
        for teller in tellers:
            teller.join(max(0.0, deadline - self._clock()))


def _due(entries: list[StoredToken]) -> float:
    """When to refresh a grant's tokens next: at the soonest refresh time, or a moment later
    if other tokens are due then too (tokens got together are due together, ms apart): one
    refresh cycle, one push. The moment is a quarter of what is left before expiry, at most
    `_GROUP_S`, so that the first token is still far from expiring."""
    first = min(entries, key=lambda e: e.next_attempt_at)
    window = min(_GROUP_S, max(0.0, first.expires_on - first.next_attempt_at) / 4)
    return max(
        e.next_attempt_at for e in entries if e.next_attempt_at <= first.next_attempt_at + window
    )


def _tell_end(grant: Grant, reason: str) -> None:
    try:
        grant.engine.end(grant.id, reason)
    except Exception as exc:  # noqa: BLE001 - the others must still hear of it
        _LOGGER.warning(
            "Could not tell %s that a worker grant ended (%s); its workers stop when their "
            "token expires.",
            grant.engine.describe(),
            _one_line(exc),
        )


def _one_line(exc: BaseException) -> str:
    text = redact(exc).splitlines()[0][:200] if str(exc) else "no details"
    return f"{type(exc).__name__}: {text}"
