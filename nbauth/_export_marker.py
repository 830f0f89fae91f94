"""Which ``IDENTITY_ENDPOINT`` this process exported itself (``nbauth.export_identity()``).

Light on purpose: the managed-identity method reads it, so that the kernel's own ``auto`` chain
never takes its own export for a managed identity.
"""

from __future__ import annotations

__all__ = ["exported", "is_own_export"]

_exported: str | None = None


def exported(endpoint: str | None) -> None:
    """This process now exports `endpoint` (None: nothing)."""
    global _exported
    _exported = endpoint


def is_own_export(endpoint: str | None) -> bool:
    """Whether `endpoint` (an ``IDENTITY_ENDPOINT`` value) is this process's own export."""
    return endpoint is not None and _exported is not None and endpoint == _exported
