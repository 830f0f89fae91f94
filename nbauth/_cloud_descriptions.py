"""Reading a cloud from what a user gives: a name, a dict, or the path of a JSON file.

A cloud is named (``public``, ``china``, ``usgov``, or as ``az cloud list`` spells them) or
described: a dict or JSON file with ``authority_host``, ``arm_endpoint`` and optionally
``arm_resource``, ``resources`` (short name -> resource URI) and ``name``; the output of
``az cloud show`` (its ``endpoints``) and an emulator ready file (its ``cloud``) work too.
Nothing here registers the cloud: that is `nbauth._clouds.resolve_cloud`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from typing import Any

from ._arguments import MAX_TEXT_CHARS, shown
from ._authority import https_url, normalize_authority_host
from ._base_errors import ConfigurationError
from ._known_clouds import CLOUD_NAMES, Cloud

__all__ = ["MAX_CLOUD_FILE_BYTES", "cloud_from_dict", "parse_cloud"]

MAX_CLOUD_FILE_BYTES = 1 << 20
"""A cloud description (even an emulator ready file) is a few kilobytes."""
_MAX_PATH_CHARS = 4096  # Linux's PATH_MAX: longer is not a path that could be opened


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
        endpoint_resources = {
            "graph": endpoints.get("microsoftGraphResourceId"),
            "loganalytics": endpoints.get("logAnalyticsResourceId"),
        }
        data = {
            "name": data.get("name") or "Custom",
            "authority_host": endpoints.get("activeDirectory"),
            "arm_endpoint": endpoints.get("resourceManager"),
            "arm_resource": endpoints.get("activeDirectoryResourceId") or "",
            "resources": {k: v for k, v in endpoint_resources.items() if isinstance(v, str) and v},
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
        arm_endpoint=https_url(data["arm_endpoint"], "arm_endpoint").rstrip("/") + "/",
        arm_resource=data.get("arm_resource") or "",
        resources=tuple((k.lower(), v) for k, v in resources.items()),
    )
