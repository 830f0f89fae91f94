"""Kernel-side helpers of the worker-credential tests (tests/test_worker_*.py).

``kernel`` (fixture, import ``kernel_fixture``): the kernel's own session, what
``nbauth.worker_credential()`` uses, fresh for the test; signed out and its grants closed after.
``local_cluster(threads)``: a ``distributed.LocalCluster`` of 2 worker processes on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from nbauth import _kernel
from nbauth._grants import grants_for


@pytest.fixture(name="kernel")
def kernel_fixture(admin):
    _kernel.reset_session()
    session = _kernel.session()
    yield session
    _kernel.reset_session()  # signs out everything: ends every grant and the export
    grants_for(session).close()


@contextmanager
def local_cluster(threads_per_worker: int) -> Iterator[tuple[Any, Any]]:
    """(cluster, client): 2 worker processes, no dashboard, all on loopback. Start it after the
    emulator exported its CA bundle to this process's environment: the workers inherit it."""
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield cluster, client
    finally:
        client.close()
        cluster.close()


def wait_for_next_push(session, timeout: float = 10.0):
    """The grant's summary once the kernel has pushed one more refresh to its workers."""
    (before,) = grants_for(session).summaries()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (now,) = grants_for(session).summaries()
        if now.refreshes > before.refreshes:
            return now
        time.sleep(0.01)
    raise AssertionError("the kernel pushed no refresh")
