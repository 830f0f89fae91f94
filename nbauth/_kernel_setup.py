"""What the kernel's session gets when it is made, asked for before it exists.

``%load_ext nbauth`` gives the kernel's session the inline re-prompt. Making the session right
then would load azure-core for every kernel that loads the extension (the session's errors are
azure-core's), so the extension asks here instead: `nbauth._kernel.session()` hands each session
it makes to `kernel_session_made`, which runs what was asked, before anyone else sees it. Asked
after the session exists, it runs at once. Light on purpose: nothing here imports the session.

The same light module lets the credentials (a floor below the session, see DEVELOPMENT.md) find
the kernel's session for ``NotebookCredential()`` with no ``session=``: `nbauth._kernel`
provides it when it is imported (``nbauth.NotebookCredential`` is reached through it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from ._base_errors import ConfigurationError

__all__ = [
    "kernel_session",
    "kernel_session_made",
    "on_kernel_session",
    "provide_kernel_session",
    "session_or_default",
]

Setup = Callable[[Any], object]

_lock = threading.Lock()
_setups: list[Setup] = []
_made: weakref.ReferenceType[Any] | None = None


def on_kernel_session(setup: Setup) -> None:
    """Run ``setup(session)`` on the kernel's session: now if there is one, else when it is made
    (and on each new one after `nbauth._kernel.reset_session`). Asking twice runs it once."""
    with _lock:
        if setup in _setups:
            return
        _setups.append(setup)
        current = _made() if _made is not None else None
    if current is not None:
        setup(current)


def kernel_session_made(session: object) -> None:
    """For `nbauth._kernel`: `session` is the kernel's new session; set it up as asked."""
    global _made
    with _lock:
        _made = weakref.ref(session)
        setups = list(_setups)
    for setup in setups:
        setup(session)


_provider: Callable[[], Any] | None = None


def provide_kernel_session(provider: Callable[[], Any]) -> None:
    """For `nbauth._kernel`: how to get the kernel's session."""
    global _provider
    _provider = provider


def kernel_session() -> Any:
    """The kernel's session, for code below the session floor."""
    if _provider is None:
        raise ConfigurationError(
            "No kernel session here: use nbauth.credential() (or nbauth.async_credential()), "
            "or pass session= explicitly."
        )
    return _provider()


S = TypeVar("S")


def session_or_default(given: S | None) -> S:
    """`given` if any, else the kernel's session: the default of every function that takes
    ``session=``."""
    if given is not None:
        return given
    found: S = kernel_session()
    return found
