"""Azure clouds: which cloud this process uses for each authority host, and the default one.

The authority host decides the cloud. `resolve_cloud` turns a name, a dict, a JSON file or a
`Cloud` (see `nbauth._cloud_descriptions`) into a `Cloud` and registers it, so that `cloud_for`
its authority host answers with it from then on (the last one registered for a host wins).
``$NBAUTH_CLOUD`` (a name or a file) is the default cloud, before ``$AZURE_AUTHORITY_HOST``.

The pieces live below this module, by job: the `Cloud` record and Microsoft's clouds
(`nbauth._known_clouds`), reading a described cloud (`nbauth._cloud_descriptions`), and
checking authority hosts and tenants (`nbauth._authority`). Their names are importable from
here too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from ._authority import authority_url, normalize_authority_host, validate_tenant
from ._base_errors import ConfigurationError
from ._cloud_descriptions import MAX_CLOUD_FILE_BYTES, cloud_from_dict, parse_cloud
from ._known_clouds import (
    AZURE_CHINA,
    AZURE_PUBLIC,
    AZURE_US_GOVERNMENT,
    CLOUD_BY_HOST,
    CLOUD_NAMES,
    Cloud,
    uses_instance_discovery,
)

__all__ = [
    "AZURE_CHINA",
    "AZURE_PUBLIC",
    "AZURE_US_GOVERNMENT",
    "CLOUD_NAMES",
    "MAX_CLOUD_FILE_BYTES",
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

# authority netloc ("host[:port]") -> the cloud chosen for it in this process
_registered: dict[str, Cloud] = {}
_env_cache: dict[tuple[str, int], Cloud] = {}
_lock = threading.Lock()


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
    cloud = CLOUD_BY_HOST.get(host)
    if cloud is not None:
        return cloud
    arm = os.environ.get("NBAUTH_ARM_ENDPOINT")
    if arm:
        return Cloud("Custom", authority_host, arm.rstrip("/") + "/", AZURE_PUBLIC.arm_endpoint)
    return Cloud("Custom", authority_host, AZURE_PUBLIC.arm_endpoint)


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
