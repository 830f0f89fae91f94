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
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from ._arguments import MAX_TEXT_CHARS, shown
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
    "parse_cloud",
    "register",
    "registered",
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


def default_authority_host() -> str:
    """The authority host of ``$NBAUTH_CLOUD`` if set, else ``$AZURE_AUTHORITY_HOST`` (as
    azure-identity reads it), else the public cloud."""
    configured = os.environ.get("NBAUTH_CLOUD")
    if configured:
        return _env_cloud(configured).authority_host
    host = os.environ.get("AZURE_AUTHORITY_HOST")
    if not host:
        return AZURE_PUBLIC.authority_host
    try:
        return normalize_authority_host(host)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"AZURE_AUTHORITY_HOST: {exc} Fix or unset the variable, and restart the kernel."
        ) from None


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
            f"'organizations' / 'common'; got {shown(tenant)}."
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


@contextmanager
def registered(cloud: Cloud | None) -> Iterator[None]:
    """`register` `cloud` (None: nothing) for a sign-in: if the block raises, the host's
    cloud is what it was before, so that a refused or failed sign-in changes nothing."""
    if cloud is None:
        yield
        return
    key = urlsplit(cloud.authority_host).netloc.lower()
    with _lock:
        before = _registered.get(key)
        _registered[key] = cloud
    try:
        yield
    except BaseException:
        with _lock:
            if _registered.get(key) is cloud:
                if before is None:
                    del _registered[key]
                else:
                    _registered[key] = before
        raise


def resolve_cloud(value: Cloud | str | os.PathLike[str] | Mapping[str, Any]) -> Cloud:
    """A `Cloud` from a name (``public``, ``china``, ``usgov``, ``AzureCloud``...), a dict, the
    path of a JSON file, or a `Cloud`; registered (see `register`). Bad input raises
    `ConfigurationError` saying what is accepted."""
    return register(parse_cloud(value))


def parse_cloud(value: Cloud | str | os.PathLike[str] | Mapping[str, Any]) -> Cloud:
    """`resolve_cloud` without registering: for checking a sign-in's arguments before anything
    changes."""
    if isinstance(value, Cloud):
        return value
    if isinstance(value, Mapping):
        return cloud_from_dict(value)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        text = text.strip() if isinstance(text, str) else ""
        named = CLOUD_NAMES.get(text.lower().replace("-", "").replace("_", ""))
        if named is not None:
            return named
        if text and (
            isinstance(value, os.PathLike) or text.endswith(".json") or os.path.isfile(text)
        ):
            return _cloud_from_file(text)
    raise ConfigurationError(
        f"Unknown cloud {shown(value)}. Use public, china or usgov, a dict with authority_host "
        f"and arm_endpoint, or the path of a JSON file holding one."
    )


MAX_CLOUD_FILE_BYTES = 1 << 20
"""A cloud description (even an emulator ready file) is a few kilobytes."""
_MAX_PATH_CHARS = 4096  # Linux's PATH_MAX: longer is not a path that could be opened


def _cloud_from_file(path: str) -> Cloud:
    try:
        # Checked before opening: opening a named pipe would wait for a writer.
        regular = stat.S_ISREG(os.stat(path).st_mode)
        if regular:
            with open(path, "rb") as f:
                raw = f.read(MAX_CLOUD_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a path with a NUL character
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        where = path if len(path) <= _MAX_PATH_CHARS else shown(path)
        raise ConfigurationError(
            f"Cannot read the cloud file {where} ({reason}). Check the path."
        ) from None
    if not regular:
        raise ConfigurationError(f"The cloud file {path} is not a regular file.")
    if len(raw) > MAX_CLOUD_FILE_BYTES:
        raise ConfigurationError(
            f"The cloud file {path} is larger than {MAX_CLOUD_FILE_BYTES // 1024} KiB; a cloud "
            f"description is a small JSON object."
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise ConfigurationError(f"The cloud file {path} is not valid JSON.") from None
    except RecursionError:
        # json's parser recurses once per nested bracket.
        raise ConfigurationError(
            f"The cloud file {path} nests too deeply to be a cloud description."
        ) from None
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
    if isinstance(nested, Mapping):  # an emulator ready file; its cloud is flat
        data = nested
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
    unknown = [key if isinstance(key, str) else shown(key) for key in data if key not in _FLAT_KEYS]
    if unknown:
        named = ", ".join(sorted(key[:40] for key in unknown)[:10])
        raise ConfigurationError(
            f"A cloud takes {', '.join(sorted(_FLAT_KEYS))}; unknown: {named}."
        )
    for key in ("name", "authority_host", "arm_endpoint", "arm_resource"):
        value = data.get(key)
        if value and (not isinstance(value, str) or len(value) > MAX_TEXT_CHARS):
            raise ConfigurationError(
                f"A cloud's {key} must be a string of at most {MAX_TEXT_CHARS} characters; got "
                f"{shown(value)}."
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
        isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_TEXT_CHARS
        for k, v in resources.items()
    ):
        raise ConfigurationError(
            "A cloud's resources must map short names to resource URIs, e.g. "
            "{'storage': 'https://storage.azure.com'}."
        )
    return Cloud(
        name=data.get("name") or "Custom",
        authority_host=normalize_authority_host(data["authority_host"]),
        arm_endpoint=_https_url(data["arm_endpoint"], "arm_endpoint").rstrip("/") + "/",
        arm_resource=data.get("arm_resource") or "",
        resources=tuple((k.lower(), v) for k, v in resources.items()),
    )


def _https_url(value: str, what: str) -> str:
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
            raise ConfigurationError(
                f"NBAUTH_CLOUD={value[:60]}: {exc} Fix or unset the variable, and restart the "
                f"kernel."
            ) from None
        _env_cache[key] = cloud
    else:
        register(cloud)
    return cloud
