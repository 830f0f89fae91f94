"""When text a server sent may become a clickable link: the one policy every view uses.

A device-code response tells the person where to go; a compromised or spoofed endpoint could
send ``javascript:`` or a look-alike page. So a server's URL is always shown as text, and is made
a link only when it is ``https`` (any host) or plain ``http`` on the loopback interface (the
emulator's sign-in page). Anything else stays text, with a warning that says why; an https page
on a host that is none of Microsoft's sign-in hosts (nor loopback) is a link with a warning.
"""

from __future__ import annotations

import html
import ipaddress
from urllib.parse import urlsplit

__all__ = ["escape", "link_html", "link_warning", "safe_href"]

_LOOPBACK_NAMES = frozenset({"localhost"})

# Where Entra ID sends people to enter a device code, in every cloud
# (https://microsoft.com/devicelogin, .../deviceloginus, .../deviceloginchina,
# https://login.microsoft.com/device), and Microsoft's authority hosts.
SIGN_IN_HOSTS = frozenset(
    {
        "microsoft.com",
        "www.microsoft.com",
        "login.microsoft.com",
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def safe_href(url: object) -> str | None:
    """`url` if it may be a link target (https, or http on a loopback host), else None."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    # Whitespace or control characters inside a URL are how look-alike links are built.
    if not text or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.password is not None:
        # "https://login.microsoftonline.com@evil.example/" reads like one host, goes to another.
        return None
    scheme = parts.scheme.lower()
    if scheme == "https" or (scheme == "http" and _is_loopback(host)):
        return text
    return None


def link_warning(url: object) -> str:
    """Why `url` is shown as text only, or why to look twice at it ('' when neither)."""
    href = safe_href(url)
    if href is None:
        return (
            "This sign-in address is not a secure (https) page, so it is shown as text only. "
            "Check it carefully before you type the code anywhere."
        )
    host = (urlsplit(href).hostname or "").rstrip(".")
    if _is_loopback(host) or host in SIGN_IN_HOSTS:
        return ""
    return (
        f"This sign-in address ({host}) is not one of Microsoft's sign-in pages. Type the code "
        f"there only if you expected this page."
    )


def escape(text: object) -> str:
    """Text for HTML, with markup a server may have sent shown literally."""
    return html.escape(str(text), quote=True)


def link_html(url: str, text: str | None = None) -> str:
    """An HTML link to `url` if the policy allows it, else the escaped text.

    The visible text is always the URL as the server sent it (or `text`), escaped.
    """
    label = escape(url if text is None else text)
    href = safe_href(url)
    if href is None:
        return f'<span class="nbauth-unsafe-link">{label}</span>'
    return f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{label}</a>'
