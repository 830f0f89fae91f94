"""The kernel's session: one per process, made on first use.

Tests make their own ``Session()`` so they share nothing; notebooks, magics and the module-level
functions use `session()`. The inline re-prompt is installed by ``%load_ext nbauth``, not here
(through `nbauth._kernel_setup`, which this module tells about each session it makes).
"""

from __future__ import annotations

import threading

from ._kernel_setup import kernel_session_made, provide_kernel_session, session_or_default
from ._session import Session

__all__ = ["reset_session", "session", "session_or_default"]

_kernel_session: Session | None = None
_kernel_session_lock = threading.Lock()


def session() -> Session:
    """The kernel's `Session` (created on first use)."""
    global _kernel_session
    if _kernel_session is None:
        with _kernel_session_lock:
            if _kernel_session is None:
                made = Session()
                kernel_session_made(made)  # what %load_ext asked for: see _kernel_setup
                _kernel_session = made
    return _kernel_session


provide_kernel_session(session)  # for the credentials' default (see _kernel_setup)


def reset_session() -> None:
    """Forget the kernel's session: cancel its pending sign-in, drop its accounts and tokens.

    For tests and for a clean slate in a long-lived kernel; the next `session()` is a new one.
    """
    global _kernel_session
    with _kernel_session_lock:
        old, _kernel_session = _kernel_session, None
    if old is not None:
        old.logout(all=True)
        old.close()
