"""Kernel-side helpers of the worker-credential tests (tests/test_worker_*.py)."""

from __future__ import annotations

import time

from nbauth._grants import grants_for


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
