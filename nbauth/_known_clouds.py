"""The `Cloud` record and the Microsoft clouds nbauth knows: their names, authority hosts,
Resource Manager endpoints and service audiences.

Hosts that are not Microsoft's (a local emulator, a test double) get no instance discovery,
because msal would otherwise ask login.microsoftonline.com whether the host is valid before
every new authority.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ._base_errors import ConfigurationError

__all__ = [
    "AZURE_CHINA",
    "AZURE_PUBLIC",
    "AZURE_US_GOVERNMENT",
    "CLOUD_BY_HOST",
    "CLOUD_NAMES",
    "Cloud",
    "uses_instance_discovery",
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
    resources: tuple[tuple[str, str], ...] = ()
    """Other services' token audiences by short name (``storage``, ``graph``, ``keyvault``,
    ``loganalytics``, ``sql``...), as pairs so that a Cloud stays hashable."""

    @property
    def arm_scope(self) -> str:
        # The doubled slash is deliberate: the Azure CLI asks for "<resource URL>/.default" and
        # the ARM resource URL ends in "/"; Entra maps it to the audience "<resource URL>".
        return (self.arm_resource or self.arm_endpoint) + "/.default"

    def scope(self, resource: str) -> str:
        """The ``.default`` scope of a service in this cloud: ``cloud.scope("storage")``;
        ``"arm"`` is Resource Manager."""
        key = resource.strip().lower()
        if key in ("arm", "resourcemanager", "management"):
            return self.arm_scope
        audience = dict(self.resources).get(key)
        if audience is None:
            known = ", ".join(["arm", *(name for name, _ in self.resources)])
            raise ConfigurationError(
                f"The cloud {self.name!r} knows no resource {resource!r}; known: {known}. "
                f"Pass the scope itself instead, e.g. 'https://<resource>/.default'."
            )
        return audience.rstrip("/") + "/.default"


AZURE_PUBLIC = Cloud(
    "AzureCloud",
    "https://login.microsoftonline.com",
    "https://management.azure.com/",
    resources=(
        ("storage", "https://storage.azure.com"),
        ("graph", "https://graph.microsoft.com"),
        ("keyvault", "https://vault.azure.net"),
        ("loganalytics", "https://api.loganalytics.io"),
        ("sql", "https://database.windows.net"),
    ),
)
AZURE_CHINA = Cloud(
    "AzureChinaCloud",
    "https://login.chinacloudapi.cn",
    "https://management.chinacloudapi.cn/",
    resources=(
        ("storage", "https://storage.azure.com"),
        ("graph", "https://microsoftgraph.chinacloudapi.cn"),
        ("keyvault", "https://vault.azure.cn"),
        ("loganalytics", "https://api.loganalytics.azure.cn"),
        ("sql", "https://database.chinacloudapi.cn"),
    ),
)
AZURE_US_GOVERNMENT = Cloud(
    "AzureUSGovernment",
    "https://login.microsoftonline.us",
    "https://management.usgovcloudapi.net/",
    resources=(
        ("storage", "https://storage.azure.com"),
        ("graph", "https://graph.microsoft.us"),
        ("keyvault", "https://vault.usgovcloudapi.net"),
        ("loganalytics", "https://api.loganalytics.us"),
        ("sql", "https://database.usgovcloudapi.net"),
    ),
)

CLOUD_NAMES: dict[str, Cloud] = {
    "public": AZURE_PUBLIC,
    "azurecloud": AZURE_PUBLIC,
    "china": AZURE_CHINA,
    "azurechinacloud": AZURE_CHINA,
    "usgov": AZURE_US_GOVERNMENT,
    "usgovernment": AZURE_US_GOVERNMENT,
    "azureusgovernment": AZURE_US_GOVERNMENT,
}
"""Names accepted by `resolve_cloud` (and ``--cloud``), lower case."""

CLOUD_BY_HOST: dict[str, Cloud] = {
    "login.microsoftonline.com": AZURE_PUBLIC,
    "login.microsoft.com": AZURE_PUBLIC,
    "login.windows.net": AZURE_PUBLIC,
    "login.chinacloudapi.cn": AZURE_CHINA,
    "login.partner.microsoftonline.cn": AZURE_CHINA,
    "login.microsoftonline.us": AZURE_US_GOVERNMENT,
    "login.usgovcloudapi.net": AZURE_US_GOVERNMENT,
}
"""The Microsoft cloud of each of its authority host names (without ``https://``)."""

# Microsoft's own authority hosts (msal's WELL_KNOWN_AUTHORITY_HOSTS), kept here so that
# deciding about instance discovery does not import msal.
_MICROSOFT_HOSTS = frozenset(
    {
        *CLOUD_BY_HOST,
        "sts.windows.net",
        "login.microsoftonline.de",
        "login-us.microsoftonline.com",
        "login.sovcloud-identity.fr",
        "login.sovcloud-identity.de",
        "login.sovcloud-identity.sg",
    }
)


def uses_instance_discovery(authority_host: str) -> bool:
    """Whether msal may do instance discovery: only for Microsoft's own hosts."""
    return (urlsplit(authority_host).hostname or "") in _MICROSOFT_HOSTS
