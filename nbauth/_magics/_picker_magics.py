"""What ``%azaccount`` and ``%azsubscription`` share: the picker shown last, and the notebook
variable ``subscription_id`` that follows the account and subscription chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import magics_class

from .._ui import display as ui_display
from ._base import SessionMagics

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["SUBSCRIPTION_VAR", "PickerMagics"]

SUBSCRIPTION_VAR = "subscription_id"
"""The user-namespace variable ``%azsubscription`` binds."""


@magics_class
class PickerMagics(SessionMagics):
    """Base of the account and subscription magics."""

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, session=session, **kwargs)
        self.picker: Any = None
        """The picker shown last (an `AccountPicker` or `SubscriptionPicker`), to drive it from
        code; None in text mode."""
        # What this magic last bound to `subscription_id`: only that value is kept in step with
        # account switches, so a variable of the user's own is never overwritten.
        self._bound: str | None = None

    def _bind_subscription(self, subscription_id: str | None) -> None:
        if self.shell is None:
            return
        self.shell.user_ns[SUBSCRIPTION_VAR] = subscription_id
        self._bound = subscription_id

    def _follow_account(self) -> None:
        """After an account switch: `subscription_id` follows the new account's choice."""
        from .._subscriptions import subscription_id  # here, not at %load_ext: azure-core

        if self.shell is None or self._bound is None:
            return
        if self.shell.user_ns.get(SUBSCRIPTION_VAR) == self._bound:
            self._bind_subscription(subscription_id(self.session))

    def _widgets(self) -> bool:
        return ui_display.use_widgets(self.ui)
