"""Inline re-prompt: sign in again in the cell that needs it, instead of failing.

When a refresh token is revoked or expired, a resource sends a claims challenge, or a tenant
demands MFA, a silent ``get_token`` cannot succeed. If that happens on the kernel's main thread
(a cell is running it, e.g. an Azure SDK call), the device-code card for the same account
appears in that cell's output and the call waits for the person to sign in, then goes on.
Anywhere else (a worker thread, a script without IPython) waiting for a person would hang, so the
authentication-required error naming ``%azlogin`` is raised as before.

`InlineReprompt` is the session's ``interaction_handler`` (`Session.tokens`): the session calls it with the error
and the request, and retries once if it returns True. ``%load_ext nbauth`` installs it on the
kernel's session (`install`, through `nbauth._kernel_setup`); the magics keep its ``ui`` in step
with their own.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._signin_status import SUCCEEDED
from .display import frontend, sign_in

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["InlineReprompt", "can_prompt", "install"]


def can_prompt() -> bool:
    """True on the main thread of an IPython shell (a kernel or terminal IPython)."""
    return threading.current_thread() is threading.main_thread() and frontend() != "none"


def _reason(error: BaseException) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"Azure needs you to sign in again. {first}".strip()


class InlineReprompt:
    """A ``Session.tokens.interaction_handler`` that shows the card inline and waits (see module doc)."""

    def __init__(self, session: Session, *, ui: str = "auto") -> None:
        # The session holds its handler; a weak reference back avoids a cycle through it.
        self._session = weakref.ref(session)
        self.ui = ui
        self._busy = threading.Lock()

    def __repr__(self) -> str:
        return f"<InlineReprompt ui={self.ui!r}>"

    def __call__(
        self,
        error: BaseException,
        *,
        scopes: Iterable[str],
        tenant_id: str | None = None,
        claims: str | None = None,
        enable_cae: bool = False,
        **_: Any,
    ) -> bool:
        """Sign the current account in again inline; True if it worked (retry the call).

        False when this is not a place to ask a person (not the main thread of an IPython
        shell), nobody is signed in, or a re-prompt is already showing. The sign-in's own
        failure (cancelled with the stop button, declined, expired) is raised.
        """
        session = self._session()
        if session is None or not can_prompt():
            return False
        account = session.account
        if account is None:
            return False
        if not self._busy.acquire(blocking=False):
            return False  # an SDK retry inside the re-prompt must not stack a second card
        try:
            authority_host, tenant = account.authority_pair
            login_kwargs: dict[str, Any] = {
                "method": "device_code",
                "tenant": tenant_id or tenant or None,
                "client_id": account.client_id,
                "scopes": tuple(scopes),
                "authority_host": authority_host or None,
            }
            if claims:
                login_kwargs["claims"] = claims
            signin = sign_in(
                session,
                wait=True,
                ui=self.ui,
                account_hint=account.username,
                reason=_reason(error),
                **login_kwargs,
            )
            return signin.status == SUCCEEDED
        finally:
            self._busy.release()


def install(session: Session, *, ui: str = "auto") -> InlineReprompt | None:
    """Give `session` the inline re-prompt, unless it already has a handler (then returns that
    handler if it is an inline re-prompt, else None: a custom handler stays)."""
    current = session.tokens.interaction_handler
    if current is not None:
        return current if isinstance(current, InlineReprompt) else None
    handler = InlineReprompt(session, ui=ui)
    session.tokens.interaction_handler = handler
    return handler
