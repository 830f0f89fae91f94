"""Authority hosts and tenants: what a caller passes, checked and put in the one form msal uses.

An authority host is ``https://host[:port]`` (lower case, no path, no user name); a tenant is a
tenant ID, a domain, or ``organizations`` / ``common`` / ``consumers``. Bad input raises
`ConfigurationError` saying what is accepted.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from ._arguments import MAX_TEXT_CHARS, shown
from ._base_errors import ConfigurationError

__all__ = [
    "Authority","authority_url", "https_url", "normalize_authority_host", "validate_tenant"]

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
# A DNS name, an IPv4 address, or an IPv6 address (urlsplit drops its brackets).
_HOST = re.compile(r"[a-z0-9_]([a-z0-9_.-]{0,252})|[0-9a-f:.]*:[0-9a-f:.]*")


def normalize_authority_host(value: str) -> str:
    """``https://host[:port]`` from a host name or URL; rejects anything else."""
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise ConfigurationError(
            f"authority_host must be a string such as 'https://login.microsoftonline.com'; got "
            f"{shown(value)}."
        )
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = _split(text)
    if "@" in parts.netloc:  # not repeated: the part before '@' may be a password
        raise ConfigurationError(
            "authority_host must be only a host, like 'https://login.microsoftonline.com', "
            "without a user name or password."
        )
    if parts.scheme != "https" or not _HOST.fullmatch(parts.hostname or ""):
        raise ConfigurationError(
            f"authority_host must be an https URL or a host name such as "
            f"'login.microsoftonline.com', not {shown(value)} (msal only talks to https "
            f"authorities)."
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"authority_host must be only a host, like 'https://login.microsoftonline.com', "
            f"without a path; got {shown(value)}. Pass the tenant separately (tenant=...)."
        )
    return f"https://{parts.netloc.lower()}"


def validate_tenant(tenant: str) -> str:
    """A tenant ID, domain, or 'organizations' / 'common' / 'consumers'; else ConfigurationError."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ConfigurationError(
            f"tenant must be a tenant ID (GUID), a domain such as 'contoso.onmicrosoft.com', or "
            f"'organizations' / 'common'; got {shown(tenant)}."
        )
    return tenant


def authority_url(authority_host: str, tenant: str) -> str:
    return f"{authority_host}/{validate_tenant(tenant)}"


class Authority(NamedTuple):
    """An authority URL as the pair it is made of, split in one place only."""

    host: str
    """``https://login.microsoftonline.com``; empty if the URL had no host part."""
    tenant: str
    """A tenant ID, a domain, ``organizations`` or ``common``."""

    @classmethod
    def parse(cls, url: str) -> Authority:
        host, _slash, tenant = url.rstrip("/").rpartition("/")
        return cls(host, tenant)

    @property
    def url(self) -> str:
        return f"{self.host}/{self.tenant}"


def https_url(value: str, what: str) -> str:
    """``value`` stripped, if it is an https URL with a valid host; else ConfigurationError
    naming ``what``."""
    parts = _split(value.strip())
    if parts.scheme != "https" or not _HOST.fullmatch(parts.hostname or ""):
        raise ConfigurationError(f"{what} must be an https URL; got {shown(value)}.")
    return value.strip()


def _split(url: str) -> SplitResult:
    """`urlsplit`, with what it cannot read (``https://[::1``) as an address without a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number below 65536
        return parts
    except ValueError:
        return urlsplit("")
