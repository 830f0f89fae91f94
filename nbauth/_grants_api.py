"""``nbauth.worker_credential()`` and friends: the notebook's sign-in for its compute.

Plain functions on the kernel's session (`nbauth._kernel.session`), like the rest of the api
floor: worker credentials for Dask workers, process pools and subprocesses
(`nbauth._worker_credential`, made by `nbauth._grants`), and the identity export for processes
started later (`nbauth._identity_export`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _identity_export
from ._grant_engine import checked_grant_scopes
from ._grants import grants_for
from ._kernel import session
from ._worker_credential import AsyncWorkerCredential, WorkerCredential

__all__ = [
    "AsyncWorkerCredential",
    "WorkerCredential",
    "async_worker_credential",
    "export_identity",
    "unexport_identity",
    "worker_credential",
]


def worker_credential(*scopes: str, dask_client: Any = None) -> WorkerCredential:
    """A credential for workers: it pickles, and gives the notebook's tokens for `scopes` only.

    In [1]: cred = nbauth.worker_credential("https://storage.azure.com/.default")
    In [2]: futures = client.map(load_blob, names, cred=cred)   # Dask
    In [3]: pool.submit(load_blob, name, cred)                  # ProcessPoolExecutor

    With a Dask client (``dask_client=``, default: the notebook's current one) the kernel pushes
    fresh tokens to every worker of its cluster, including workers that join later; without one
    (or with ``dask_client=False``) processes on this machine ask the kernel's loopback relay.
    The kernel refreshes ahead of expiry, once per scope for every worker. Signing out
    (``nbauth.logout()``, ``%azlogout``) ends it everywhere within 2 s. The pickle holds no
    token; asking for another scope raises ``ClientAuthenticationError``.
    """
    grant = grants_for(session()).grant(checked_grant_scopes(scopes), dask_client)
    return WorkerCredential(grant.id, grant.scopes, grant.source)


def async_worker_credential(*scopes: str, dask_client: Any = None) -> AsyncWorkerCredential:
    """The async twin of `worker_credential` (azure-core ``AsyncTokenCredential``), for ``.aio``
    clients and adlfs (``storage_options={"credential": nbauth.async_worker_credential(...)}``).
    """
    grant = grants_for(session()).grant(checked_grant_scopes(scopes), dask_client)
    return AsyncWorkerCredential(grant.id, grant.scopes, grant.source)


def export_identity(scopes: Iterable[str] | str | None = None) -> str:
    """Sign in processes started later from this kernel, with no code change (``%azlogin
    --export``): sets ``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER``, which azure-identity's
    ``DefaultAzureCredential`` and ``ManagedIdentityCredential`` read there. ``scopes``: what
    they may get (default: Storage, Resource Manager, Key Vault). Returns the endpoint.
    Signing out (or `unexport_identity`) turns it off.
    """
    return _identity_export.export_identity(session(), scopes)


def unexport_identity() -> bool:
    """Turn `export_identity` off (the variables go back as they were); True if it was on."""
    return _identity_export.unexport_identity(session())
