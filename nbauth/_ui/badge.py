"""The signed-in badge: who, which tenant, how, and until when the token is good.

`BadgeInfo` is what the badge shows, gathered from the session; `badge_text` / `badge_html` render
it (the text is also the badge's ``text/plain`` for front-ends without widgets);
`signed_in_badge` builds the ipywidgets widget. ipywidgets is imported only by that function so
the text fallback never pays for it.

A sign-in made by the ``auto`` chain carries its report (what each step did and why): the badge
shows it collapsed under the pill (an HTML ``<details>``), and the text forms add it line by line.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._base_errors import NbauthError
from .._labels import format_time, method_label
from .._links import escape

if TYPE_CHECKING:
    from .._session import Session
    from .._signin import Account

__all__ = [
    "BadgeInfo",
    "badge_html",
    "badge_info",
    "badge_text",
    "full_badge_text",
    "report_html",
    "signed_in_badge",
]


@dataclass(frozen=True)
class BadgeInfo:
    username: str
    tenant_id: str | None
    method: str
    expires_on: float | None
    """When the access token for the sign-in's scopes expires (epoch s), if known."""
    name: str | None = None
    report: str | None = None
    """The ``auto`` chain's report as text (`nbauth.AutoReport`), when ``auto`` signed in."""


def badge_info(
    session: Session,
    account: Account,
    scopes: Iterable[str] | None = None,
    *,
    report: object | None = None,
) -> BadgeInfo:
    """What the badge shows for `account`; asks the session for the token's expiry.

    Right after a sign-in the token is in msal's cache, so this makes no request. A failure to
    get it only leaves the expiry out: the badge must not turn a successful sign-in into an error.
    ``report``: the ``auto`` chain's `AutoReport` (kept as its text: it is settled by now).
    """
    expires_on: float | None = None
    wanted = tuple(scopes or (session.cloud.arm_scope,))
    try:
        expires_on = session.token(wanted).expires_on
    except (NbauthError, OSError, ValueError, ArithmeticError):
        expires_on = None
    return BadgeInfo(
        username=account.username,
        tenant_id=account.tenant_id,
        method=account.method,
        expires_on=expires_on,
        name=account.name,
        report=(str(report).strip() or None) if report is not None else None,
    )


def _parts(info: BadgeInfo, *, short: bool = False) -> list[str]:
    parts = []
    if info.tenant_id:
        tenant = info.tenant_id
        if short and len(tenant) > 13:
            tenant = tenant[:8] + "\u2026"  # the full ID is in the tooltip and in %azwhoami
        parts.append(f"tenant {tenant}")
    parts.append(method_label(info.method))
    if info.expires_on is not None:
        parts.append(f"token valid until {format_time(info.expires_on)}")
    return parts


def badge_text(info: BadgeInfo) -> str:
    """``Signed in as alice@contoso.example · tenant … · device code · token valid until 19:42``."""
    return " · ".join([f"Signed in as {info.username}", *_parts(info)])


def full_badge_text(info: BadgeInfo) -> str:
    """The badge line, then the ``auto`` report (one line per step) when there is one."""
    line = badge_text(info)
    return f"{line}\n{info.report}" if info.report else line


def report_html(report: str) -> str:
    """The ``auto`` report, collapsed: text only, escaped, in a ``<details>`` a click opens."""
    return (
        '<details class="nbauth-auto-report" style="margin:2px 0 0 4px;'
        'font-size:var(--jp-ui-font-size1, 13px)">'
        '<summary style="cursor:pointer;opacity:0.75">What <code>auto</code> tried</summary>'
        f'<pre style="margin:4px 0 0 0;white-space:pre-wrap">{escape(report)}</pre>'
        "</details>"
    )


def badge_html(info: BadgeInfo) -> str:
    # Inline styles: the badge is shown on its own too, where no stylesheet of ours is loaded.
    # JupyterLab's CSS variables keep it readable in dark themes; the fallbacks serve elsewhere.
    green = "var(--jp-success-color1, #2e7d32)"
    details = escape(" · ".join(_parts(info, short=True)))
    who = escape(info.username)
    title = escape(" · ".join([info.name or info.username, *_parts(info)]))
    pill = (
        f'<div class="nbauth-badge" style="display:flex;flex-wrap:wrap;align-items:baseline;'
        f"column-gap:0.6em;width:fit-content;max-width:100%;box-sizing:border-box;"
        f"padding:3px 14px;border:1px solid {green};border-radius:14px;"
        f'font-size:var(--jp-ui-font-size1, 13px);line-height:1.6">'
        f'<span style="white-space:nowrap" title="{title}">'
        f'<span style="color:{green};font-weight:bold" aria-hidden="true">&#10003;</span> '
        f'Signed in as <b class="nbauth-badge-user">{who}</b></span>'
        f'<span class="nbauth-badge-details" style="opacity:0.75" title="{title}">{details}</span>'
        f"</div>"
    )
    # The report goes under the pill, not inside it: the pill stays one compact line.
    return pill + report_html(info.report) if info.report else pill


@functools.cache
def _badge_class() -> type:
    import ipywidgets  # Lazy load: only widget front-ends pay for it.

    # ipywidgets ships no type information, so its classes are Any to a type checker.
    class SignedInBadge(ipywidgets.HTML):  # type: ignore[misc]
        """The badge widget; its ``text/plain`` is the badge text (nbclient, no-widget views)."""

        def __init__(self, info: BadgeInfo, **kwargs: Any) -> None:
            super().__init__(value=badge_html(info), **kwargs)
            self.info = info
            self.add_class("nbauth-badge-widget")

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
            data: dict[str, Any] = super()._repr_mimebundle_(**kwargs)  # ipywidgets: untyped
            data["text/plain"] = full_badge_text(self.info)
            return data

    return SignedInBadge


def signed_in_badge(info: BadgeInfo) -> Any:
    """A `SignedInBadge` (an ``ipywidgets.HTML``) for `info`; not displayed."""
    return _badge_class()(info)
