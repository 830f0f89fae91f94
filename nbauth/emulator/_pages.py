"""The emulator's pages for people (device code, account picker) share one Entra-like template."""

from __future__ import annotations

import html
import string
from importlib import resources

from starlette.responses import HTMLResponse

_TEMPLATE = string.Template(
    resources.files(__package__).joinpath("device_login.html").read_text(encoding="utf-8")
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """``body`` is HTML whose values the caller escaped; the title is escaped here."""
    return HTMLResponse(
        _TEMPLATE.substitute(title=html.escape(title), body=body), status_code=status
    )
