"""Faults the admin API queues for an endpoint: an error, a delay, a dropped connection, or the
real answer patched (``_traffic`` applies them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FAULT_ENDPOINTS = ("token", "devicecode", "discovery", "jwks", "userrealm", "arm")
"""Endpoint names for ``POST /admin/faults`` and the request log:

- ``token``: ``POST /{tenant}/oauth2/v2.0/token`` (every grant)
- ``devicecode``: ``POST /{tenant}/oauth2/v2.0/devicecode``
- ``discovery``: ``GET /{tenant}/v2.0/.well-known/openid-configuration``
- ``jwks``: ``GET /{tenant}/discovery/v2.0/keys``
- ``userrealm``: ``GET /common/userrealm/{username}``
- ``arm``: every request to the ARM server
"""


class FaultSpecError(ValueError):
    """A ``POST /admin/faults`` body that does not describe a fault; says which field is wrong."""


@dataclass
class Fault:
    status: int | None
    body: object
    delay_s: float
    drop: bool
    count: int
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (``Retry-After``, ``WWW-Authenticate``...), on the fault's own
    answer or, with ``patch``, on the real one."""
    patch: dict[str, Any] | None = None
    """Merged into the real JSON answer instead of replacing it (e.g. a device-code response
    with another ``verification_uri``); the flow behind it keeps working."""
    content_type: str | None = None
    """The fault body's Content-Type instead of the default (malformed "JSON" bodies)."""
    body_bytes: int | None = None
    """Repeat the body (or "x") to exactly this many bytes: a huge answer."""


def fault_from_spec(spec: dict[str, Any]) -> tuple[str, Fault]:
    """The endpoint and fault a ``POST /admin/faults`` body asks for, checked field by field."""
    endpoint = spec.get("endpoint")
    if endpoint not in FAULT_ENDPOINTS:
        raise FaultSpecError(
            f"Unknown fault endpoint {endpoint!r}; use one of {list(FAULT_ENDPOINTS)}."
        )
    unknown = sorted(
        set(spec)
        - {"endpoint", "status", "body", "delay_s", "drop", "count"}
        - {"headers", "patch", "content_type", "body_bytes"}
    )
    if unknown:
        raise FaultSpecError(f"Unknown fault field(s) {unknown}.")
    count = spec.get("count", 1)
    status = spec.get("status")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultSpecError("Fault 'count' must be a positive integer.")
    if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
        raise FaultSpecError("Fault 'status' must be an HTTP status code.")
    delay = spec.get("delay_s", 0)
    if not isinstance(delay, (int, float)) or delay < 0:
        raise FaultSpecError("Fault 'delay_s' must be a non-negative number.")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise FaultSpecError("Fault 'headers' must be an object of header name -> string value.")
    patch = spec.get("patch")
    if patch is not None and not isinstance(patch, dict):
        raise FaultSpecError("Fault 'patch' must be a JSON object merged into the real answer.")
    content_type = spec.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        raise FaultSpecError("Fault 'content_type' must be a string.")
    body_bytes = spec.get("body_bytes")
    if body_bytes is not None and (
        not isinstance(body_bytes, int) or isinstance(body_bytes, bool) or body_bytes < 1
    ):
        raise FaultSpecError("Fault 'body_bytes' must be a positive integer.")
    fault = Fault(
        status,
        spec.get("body"),
        float(delay),
        bool(spec.get("drop", False)),
        count,
        headers=dict(headers),
        patch=patch,
        content_type=content_type,
        body_bytes=body_bytes,
    )
    if (
        fault.status is None
        and not fault.drop
        and not fault.delay_s
        and fault.patch is None
        and not fault.headers
    ):
        raise FaultSpecError(
            "A fault needs at least one of 'status', 'delay_s', 'drop', 'patch' or 'headers'."
        )
    return endpoint, fault
