"""``nbauth.whoami()`` / ``%azwhoami``: who is signed in, where, how, and until when.

Reads only what the session already knows: the account, the chosen subscription and, from the
token store, which resources got a token and when each expires. Never a token: `WhoAmI` can be
printed, displayed and pickled safely. `last_auto_report` says how the latest ``auto`` sign-in
chose its way in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._grants import GrantSummary, grant_summaries
from ._kernel import session_or_default
from ._labels import format_time, method_label
from ._links import escape
from ._methods.auto import AutoReport
from ._subscriptions import current_subscription
from ._token_store import TokenKey

if TYPE_CHECKING:
    from ._persistence import PersistenceStatus
    from ._session import Session
    from ._signin import Account

__all__ = ["TokenExpiry", "WhoAmI", "last_auto_report", "whoami"]


@dataclass(frozen=True)
class TokenExpiry:
    """An access token this kernel holds: for what, in which tenant, until when. No token."""

    resource: str
    """The resource the scopes are for, e.g. ``https://storage.azure.com``."""
    tenant: str | None
    """None for the account's own sign-in tenant."""
    expires_on: float

    @property
    def expired(self) -> bool:
        return not self.expires_on > time.time()  # NaN, no time at all, counts as expired


@dataclass(frozen=True)
class WhoAmI:
    """What ``%azwhoami`` shows; ``str()`` for text, ``_repr_html_`` for notebooks."""

    account: Account | None
    subscription: str | None = None
    """The chosen subscription ("name (id)"), if any."""
    tokens: tuple[TokenExpiry, ...] = ()
    pending: bool = False
    """A sign-in is in progress."""
    persistence: PersistenceStatus | None = None
    """What the kernel saves on disk to stay signed in across restarts."""
    grants: tuple[GrantSummary, ...] = ()
    """What the kernel shares with its compute: worker credentials, the identity export."""

    @property
    def signed_in(self) -> bool:
        return self.account is not None

    @property
    def is_encrypted(self) -> bool | None:
        """Whether saved tokens are encrypted; None when no token is saved."""
        return self.persistence.is_encrypted if self.persistence is not None else None

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs about the account, the same in text and HTML."""
        account = self.account
        if account is None:
            return []
        rows = [("User", account.username)]
        if account.name:
            rows.append(("Name", account.name))
        rows.append(("Tenant", account.tenant_id or "unknown"))
        if account.home_tenant_id and account.home_tenant_id != account.tenant_id:
            rows.append(("Home tenant", account.home_tenant_id))
        rows.append(("Method", method_label(account.method)))
        rows.append(("Authority", account.authority))
        rows.append(("Subscription", self.subscription or "none chosen"))
        if self.persistence is not None:
            rows.append(("Persistence", self.persistence.describe()))
        return rows

    def token_rows(self) -> list[tuple[str, str]]:
        """(resource [tenant], "valid until ...") for each token used so far."""
        out = []
        for token in self.tokens:
            where = f" (tenant {token.tenant})" if token.tenant else ""
            state = "expired at" if token.expired else "valid until"
            out.append((f"{token.resource}{where}", f"{state} {format_time(token.expires_on)}"))
        return out

    def _headline(self) -> str:
        if self.account is None:
            if self.pending:
                return "A sign-in is in progress; nobody is signed in yet."
            return "Nobody is signed in in this kernel. Run `%azlogin` (or `nbauth.login()`)."
        suffix = " (a new sign-in is in progress)" if self.pending else ""
        return f"Signed in as {self.account.username}{suffix}."

    def __str__(self) -> str:
        rows = self.rows()
        if not rows:
            return self._headline()
        width = max(len(label) for label, _ in rows) + 1
        lines = [self._headline()]
        lines += [f"  {label + ':':<{width}} {value}" for label, value in rows]
        tokens = self.token_rows()
        if tokens:
            lines.append("  Tokens used so far:")
            token_width = max(len(resource) for resource, _ in tokens)
            lines += [f"    {resource:<{token_width}}  {state}" for resource, state in tokens]
        else:
            lines.append("  No token used yet in this kernel.")
        if self.grants:
            lines.append("  Shared with workers:")
            lines += [f"    {scopes}  {where}" for scopes, where in self.grant_rows()]
        return "\n".join(lines)

    def grant_rows(self) -> list[tuple[str, str]]:
        """(scopes, where they went, until when, refreshes pushed) for each grant."""
        return [grant.row() for grant in self.grants]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        def table(rows: list[tuple[str, str]], css_class: str) -> str:
            body = "".join(
                f'<tr><th style="text-align:left;padding-right:1em">{escape(label)}</th>'
                f'<td style="text-align:left">{escape(value)}</td></tr>'
                for label, value in rows
            )
            return f'<table class="{css_class}">{body}</table>' if body else ""

        parts = [f"<p>{escape(self._headline())}</p>", table(self.rows(), "nbauth-whoami")]
        if self.account is not None:
            tokens = self.token_rows()
            if tokens:
                parts.append("<p>Tokens used so far:</p>")
                parts.append(table(tokens, "nbauth-whoami-tokens"))
            else:
                parts.append("<p>No token used yet in this kernel.</p>")
            if self.grants:
                parts.append("<p>Shared with workers:</p>")
                parts.append(table(self.grant_rows(), "nbauth-whoami-grants"))
        return f"<div>{''.join(parts)}</div>"


def _resource(scopes: tuple[str, ...]) -> str:
    resources = []
    for scope in scopes:
        resource = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        if resource not in resources:
            resources.append(resource)
    return " ".join(resources)


def _token_expiries(session: Session, account: Account) -> tuple[TokenExpiry, ...]:
    # The token store lists (key, expiry) pairs; never the tokens.
    out = []
    for key, expires_on in session.tokens.store.expiries():
        if not isinstance(key, TokenKey) or key.account != account.home_account_id or key.claims:
            continue
        out.append(TokenExpiry(_resource(tuple(key.scopes)), key.tenant or None, float(expires_on)))
    out.sort(key=lambda t: (t.resource, t.tenant or ""))
    return tuple(out)


def _subscription(session: Session) -> str | None:
    chosen = current_subscription(session)
    return str(chosen) if chosen is not None else None  # "name (id)"


def whoami(session: Session | None = None) -> WhoAmI:
    """Who is signed in in this kernel (``session``: default the kernel's).

    In [1]: nbauth.whoami()
    In [2]: nbauth.whoami().account.username
    """
    session = session_or_default(session)
    account = session.account
    pending = session.pending is not None
    persistence = session.persistence_status()
    if account is None:
        return WhoAmI(account=None, pending=pending, persistence=persistence)
    return WhoAmI(
        account=account,
        subscription=_subscription(session),
        tokens=_token_expiries(session, account),
        pending=pending,
        persistence=persistence,
        grants=grant_summaries(session),
    )


def last_auto_report(session: Session | None = None) -> AutoReport | None:
    """What the latest ``auto`` sign-in of this kernel (``%azlogin``) tried, step by step, or
    None (``session``: default the kernel's).

    In [1]: print(nbauth.last_auto_report())
    """
    report = session_or_default(session).last_auto_report
    return report if isinstance(report, AutoReport) else None
