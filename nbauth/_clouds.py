"""Azure clouds: which authority host goes with which Resource Manager endpoint and scope.

The authority host decides the cloud. Hosts that are not Microsoft's (a local emulator, a test
double) get no instance discovery, because msal would otherwise ask login.microsoftonline.com
whether the host is valid before every new authority.

A cloud is named (``public``, ``china``, ``usgov``, or as ``az cloud list`` spells them) or
described: a dict or JSON file with ``authority_host``, ``arm_endpoint`` and optionally
``arm_resource``, ``resources`` (short name -> resource URI) and ``name``; the output of
``az cloud show`` (its ``endpoints``) and an emulator ready file (its ``cloud``) work too.
`resolve_cloud` turns any of those into a `Cloud` and registers it, so that `cloud_for` its
authority host answers with it from then on (the last one registered for a host wins).
``$NBAUTH_CLOUD`` (a name or a file) is the default cloud, before ``$AZURE_AUTHORITY_HOST``.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._base_errors import ConfigurationError

__all__ = [
    "AZURE_CHINA",
    "AZURE_PUBLIC",
    "AZURE_US_GOVERNMENT",
    "CLOUD_NAMES",
    "Cloud",
    "authority_url",
    "cloud_for",
    "cloud_from_dict",
    "default_authority_host",
    "normalize_authority_host",
    "register",
    "resolve_cloud",
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
    """The authority host of ``$NBAUTH_CLOUD`` if set, else ``$AZURE_AUTHORITY_HOST`` (as
    azure-identity reads it), else the public cloud."""
    configured = os.environ.get("NBAUTH_CLOUD")
    if configured:
        return _env_cloud(configured).authority_host
    return normalize_authority_host(
        os.environ.get("AZURE_AUTHORITY_HOST") or AZURE_PUBLIC.authority_host
    )


def uses_instance_discovery(authority_host: str) -> bool:
    """Whether msal may do instance discovery: only for Microsoft's own hosts."""
    return (urlsplit(authority_host).hostname or "") in _MICROSOFT_HOSTS


def cloud_for(authority_host: str) -> Cloud:
    """The cloud of an authority host: the one last registered for it (`resolve_cloud`), else
    the Microsoft cloud it belongs to.

    Unknown hosts (an emulator) use the public cloud's scopes, with the Resource Manager
    endpoint from ``$NBAUTH_ARM_ENDPOINT`` when set.
    """
    parts = urlsplit(authority_host)
    registered = _registered.get(parts.netloc.lower())
    if registered is not None:
        return registered
    host = parts.hostname or ""
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


# -- named and custom clouds -----------------------------------------------------------------

# authority netloc ("host[:port]") -> the cloud chosen for it in this process
_registered: dict[str, Cloud] = {}
_env_cache: dict[tuple[str, int], Cloud] = {}
_lock = threading.Lock()


def register(cloud: Cloud) -> Cloud:
    """Make `cloud_for` answer `cloud` for its authority host from now on."""
    with _lock:
        _registered[urlsplit(cloud.authority_host).netloc.lower()] = cloud
    return cloud


def resolve_cloud(value: Cloud | str | os.PathLike[str] | Mapping[str, Any]) -> Cloud:
    """A `Cloud` from a name (``public``, ``china``, ``usgov``, ``AzureCloud``...), a dict, the
    path of a JSON file, or a `Cloud`; registered (see `register`). Bad input raises
    `ConfigurationError` saying what is accepted."""
    if isinstance(value, Cloud):
        return register(value)
    if isinstance(value, Mapping):
        return register(cloud_from_dict(value))
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        named = CLOUD_NAMES.get(text.lower().replace("-", "").replace("_", ""))
        if named is not None:
            return register(named)
        if isinstance(value, os.PathLike) or text.endswith(".json") or os.path.isfile(text):
            return register(_cloud_from_file(text))
    raise ConfigurationError(
        f"Unknown cloud {value!r}. Use public, china or usgov, a dict with authority_host and "
        f"arm_endpoint, or the path of a JSON file holding one."
    )


def _cloud_from_file(path: str) -> Cloud:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read the cloud file {path} ({exc.strerror or type(exc).__name__}). Check "
            f"the path."
        ) from None
    except ValueError:
        raise ConfigurationError(f"The cloud file {path} is not valid JSON.") from None
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"The cloud file {path} must hold a JSON object.")
    try:
        return cloud_from_dict(data)
    except ConfigurationError as exc:
        raise ConfigurationError(f"The cloud file {path}: {exc}") from None


_FLAT_KEYS = {"name", "authority_host", "arm_endpoint", "arm_resource", "resources"}


def cloud_from_dict(data: Mapping[str, Any]) -> Cloud:
    """A `Cloud` from its description (see the module docstring); not registered."""
    nested = data.get("cloud")
    if isinstance(nested, Mapping):  # an emulator ready file
        return cloud_from_dict(nested)
    endpoints = data.get("endpoints")
    if isinstance(endpoints, Mapping):  # `az cloud show`
        resources = {
            "graph": endpoints.get("microsoftGraphResourceId"),
            "loganalytics": endpoints.get("logAnalyticsResourceId"),
        }
        data = {
            "name": data.get("name") or "Custom",
            "authority_host": endpoints.get("activeDirectory"),
            "arm_endpoint": endpoints.get("resourceManager"),
            "arm_resource": endpoints.get("activeDirectoryResourceId") or "",
            "resources": {k: v for k, v in resources.items() if isinstance(v, str) and v},
        }
    unknown = sorted(set(data) - _FLAT_KEYS)
    if unknown:
        raise ConfigurationError(
            f"A cloud takes {', '.join(sorted(_FLAT_KEYS))}; unknown: {', '.join(unknown)}."
        )
    missing = [k for k in ("authority_host", "arm_endpoint") if not data.get(k)]
    if missing:
        raise ConfigurationError(
            f"A cloud needs {' and '.join(missing)}, e.g. {{'authority_host': "
            f"'https://login.example', 'arm_endpoint': 'https://management.example/'}}."
        )
    resources = data.get("resources")
    if resources is None:
        resources = {}
    if not isinstance(resources, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in resources.items()
    ):
        raise ConfigurationError(
            "A cloud's resources must map short names to resource URIs, e.g. "
            "{'storage': 'https://storage.azure.com'}."
        )
    return Cloud(
        name=str(data.get("name") or "Custom"),
        authority_host=normalize_authority_host(str(data["authority_host"])),
        arm_endpoint=_https_url(str(data["arm_endpoint"]), "arm_endpoint").rstrip("/") + "/",
        arm_resource=str(data.get("arm_resource") or ""),
        resources=tuple((k.lower(), v) for k, v in resources.items()),
    )


def _https_url(value: str, what: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(f"{what} must be an https URL; got {value!r}.")
    return value.strip()


def _env_cloud(value: str) -> Cloud:
    """``$NBAUTH_CLOUD``, resolved once per value (and file version)."""
    try:
        version = os.stat(value).st_mtime_ns if os.path.isfile(value) else 0
    except OSError:
        version = 0
    key = (value, version)
    cloud = _env_cache.get(key)
    if cloud is None:
        try:
            cloud = resolve_cloud(value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"NBAUTH_CLOUD={value}: {exc}") from None
        _env_cache[key] = cloud
    else:
        register(cloud)
    return cloud
