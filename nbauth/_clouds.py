"""Azure clouds: which authority host goes with which Resource Manager endpoint and scope.

The authority host decides the cloud. Hosts that are not Microsoft's (a local emulator, a test
double) get no instance discovery, because msal would otherwise ask login.microsoftonline.com
whether the host is valid before every new authority.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._errors import ConfigurationError

__all__ = [
    "AZURE_CHINA",
    "AZURE_PUBLIC",
    "AZURE_US_GOVERNMENT",
    "Cloud",
    "authority_url",
    "cloud_for",
    "default_authority_host",
    "normalize_authority_host",
    "uses_instance_discovery",
    "validate_tenant",
]


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str
    """``https://`` URL without a trailing slash."""
    arm_endpoint: str
    """Resource Manager base URL to call, with a trailing slash."""
    arm_resource: str = ""
    """Resource Manager's token audience; the endpoint when empty. An emulator serves ARM at a
    loopback URL but issues tokens for the real audience."""

    @property
    def arm_scope(self) -> str:
        # The doubled slash is deliberate: the Azure CLI asks for "<resource URL>/.default" and
        # the ARM resource URL ends in "/"; Entra maps it to the audience "<resource URL>".
        return (self.arm_resource or self.arm_endpoint) + "/.default"


AZURE_PUBLIC = Cloud(
    "AzureCloud", "https://login.microsoftonline.com", "https://management.azure.com/"
)
AZURE_CHINA = Cloud(
    "AzureChinaCloud", "https://login.chinacloudapi.cn", "https://management.chinacloudapi.cn/"
)
AZURE_US_GOVERNMENT = Cloud(
    "AzureUSGovernment", "https://login.microsoftonline.us", "https://management.usgovcloudapi.net/"
)

_CLOUD_BY_HOST = {
    "login.microsoftonline.com": AZURE_PUBLIC,
    "login.microsoft.com": AZURE_PUBLIC,
    "login.windows.net": AZURE_PUBLIC,
    "login.chinacloudapi.cn": AZURE_CHINA,
    "login.partner.microsoftonline.cn": AZURE_CHINA,
    "login.microsoftonline.us": AZURE_US_GOVERNMENT,
    "login.usgovcloudapi.net": AZURE_US_GOVERNMENT,
}

# Microsoft's own authority hosts (msal's WELL_KNOWN_AUTHORITY_HOSTS), kept here so that
# deciding about instance discovery does not import msal.
_MICROSOFT_HOSTS = frozenset(
    {
        *_CLOUD_BY_HOST,
        "sts.windows.net",
        "login.microsoftonline.de",
        "login-us.microsoftonline.com",
        "login.sovcloud-identity.fr",
        "login.sovcloud-identity.de",
        "login.sovcloud-identity.sg",
    }
)

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


def normalize_authority_host(value: str) -> str:
    """``https://host[:port]`` from a host name or URL; rejects anything else."""
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(
            f"authority_host must be an https URL or a host name such as "
            f"'login.microsoftonline.com', not {value!r} (msal only talks to https authorities)."
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"authority_host must be only a host, like 'https://login.microsoftonline.com', "
            f"without a path; got {value!r}. Pass the tenant separately (tenant=...)."
        )
    return f"https://{parts.netloc.lower()}"


def default_authority_host() -> str:
    """``$AZURE_AUTHORITY_HOST`` (as azure-identity reads it), else the public cloud."""
    return normalize_authority_host(
        os.environ.get("AZURE_AUTHORITY_HOST") or AZURE_PUBLIC.authority_host
    )


def uses_instance_discovery(authority_host: str) -> bool:
    """Whether msal may do instance discovery: only for Microsoft's own hosts."""
    return (urlsplit(authority_host).hostname or "") in _MICROSOFT_HOSTS


def cloud_for(authority_host: str) -> Cloud:
    """The cloud of an authority host.

    Unknown hosts (an emulator) use the public cloud's scopes, with the Resource Manager
    endpoint from ``$NBAUTH_ARM_ENDPOINT`` when set.
    """
    host = urlsplit(authority_host).hostname or ""
    cloud = _CLOUD_BY_HOST.get(host)
    if cloud is not None:
        return cloud
    arm = os.environ.get("NBAUTH_ARM_ENDPOINT")
    if arm:
        return Cloud("Custom", authority_host, arm.rstrip("/") + "/", AZURE_PUBLIC.arm_endpoint)
    return Cloud("Custom", authority_host, AZURE_PUBLIC.arm_endpoint)


def validate_tenant(tenant: str) -> str:
    """A tenant ID, domain, or 'organizations' / 'common' / 'consumers'; else ConfigurationError."""
    if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
        raise ConfigurationError(
            f"tenant must be a tenant ID (GUID), a domain such as 'contoso.onmicrosoft.com', or "
            f"'organizations' / 'common'; got {tenant!r}."
        )
    return tenant


def authority_url(authority_host: str, tenant: str) -> str:
    return f"{authority_host}/{validate_tenant(tenant)}"
