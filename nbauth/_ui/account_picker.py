"""The ``%azaccount`` picker: the kernel's accounts, which one is current, add one, sign one out.

`AccountPicker` builds ipywidgets without displaying them; tests drive it with
``picker.rows[username].use_button.click()`` and read its traits. It only shows what the
session owns: usernames, tenant names and IDs, the sign-in method, never a token. While
"Add account" waits for a device-code sign-in, the code is shown inline (`InlineSignIn`) and
removed from the widgets once the sign-in ends.

Clicks are processed while the kernel is idle (the cell that showed the picker has finished),
so everything here is non-blocking: a sign-in runs with ``wait=False`` and reports back through
its done callback, from the polling thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._accounts import accounts as list_accounts
from .._accounts import logout_account, use_account
from .._base_errors import NbauthError
from .._labels import method_label
from .._links import escape
from .._signin import CANCELLED, SUCCEEDED
from .._subscriptions import tenant_names

if TYPE_CHECKING:
    from .._prompt import Prompt
    from .._session import Session
    from .._signin import Account, SignIn

__all__ = ["AccountPicker", "InlineSignIn", "accounts_text", "close_tree"]

_CURRENT_MARK = "\u25cf"  # ●
_SEP = " \u00b7 "  # ·
_NO_ACCOUNTS = "No accounts are signed in in this kernel: add one to start."


def _tenant_label(names: dict[str, str], tenant_id: str | None) -> str:
    if not tenant_id:
        return "unknown"
    name = names.get(tenant_id.lower())
    return f"{name} ({tenant_id})" if name else tenant_id


def account_line(account: Account, *, current: bool, names: dict[str, str]) -> str:
    """One account as plain text."""
    mark = f"{_CURRENT_MARK} " if current else "  "
    parts = [f"tenant {_tenant_label(names, account.tenant_id)}"]
    if account.home_tenant_id and account.home_tenant_id != account.tenant_id:
        parts.append(f"home tenant {_tenant_label(names, account.home_tenant_id)}")
    parts.append(method_label(account.method))
    suffix = " (current)" if current else ""
    return f"{mark}{account.username}{suffix}{_SEP}{_SEP.join(parts)}"


def accounts_text(session: Session, accounts: list[Account] | None = None) -> str:
    """The accounts as plain text: the picker's ``text/plain`` and the terminal view."""
    found = list_accounts(session=session) if accounts is None else accounts
    if not found:
        return "No accounts are signed in in this kernel. Run `%azlogin` to sign in."
    current = session.account
    names = tenant_names(session)
    lines = [
        account_line(
            a,
            current=current is not None and a.home_account_id == current.home_account_id,
            names=names,
        )
        for a in found
    ]
    if current is None:
        lines.append("No account is current: choose one with `%azaccount --use USERNAME`.")
    return "\n".join(lines)


def close_tree(widget: Any) -> None:
    """Close a widget and every widget inside it (their models leave the front-end)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()


class InlineSignIn:
    """A person's sign-in shown inside a picker: the card (a device code, or the browser
    sign-in's page and paste field), then gone.

    ``start(login)`` calls ``login(prompt)`` (which must start a non-blocking sign-in and
    return its `SignIn`) and puts the card for the prompt it receives into ``widget``. The
    card's Cancel button works (the kernel is idle). When the sign-in ends the card is closed,
    user code and all, and ``on_done(sign_in)`` runs (from the polling thread); the picker's
    own status line says how it ended.
    """

    def __init__(self, on_done: Callable[[SignIn], object] | None = None) -> None:
        import ipywidgets as w  # Lazy load

        self.on_done = on_done
        self.widget = w.VBox()
        self.card: Any = None
        self.sign_in: SignIn | None = None
        self._reason = ""
        self._account_hint: str | None = None

    @property
    def pending(self) -> bool:
        return self.sign_in is not None and not self.sign_in.done()

    def start(
        self,
        login: Callable[[Callable[[Prompt], object]], SignIn],
        *,
        reason: str = "",
        account_hint: str | None = None,
    ) -> SignIn:
        self._reason, self._account_hint = reason, account_hint
        signin = login(self._show_prompt)
        self.sign_in = signin
        if self.card is not None:
            self.card.attach(signin)
        signin.add_done_callback(self._finished)
        return signin

    def _show_prompt(self, prompt: Prompt) -> None:
        from .device_code_card import DeviceCodeCard  # Lazy load: anywidget

        if self.card is not None:
            # The sign-in changed what it asks (device code refused: the browser), from its
            # worker thread: the same card follows.
            self.card.show_prompt(prompt)
            return
        self.card = DeviceCodeCard(
            prompt, blocking=False, account_hint=self._account_hint, reason=self._reason or None
        )
        self.widget.children = [self.card]

    def cancel(self) -> None:
        signin = self.sign_in
        if signin is not None:
            signin.cancel()

    def _finished(self, signin: SignIn) -> None:
        # The code goes as soon as it is useless: saved widget state ends up in the .ipynb.
        card, self.card = self.card, None
        self.widget.children = []
        if card is not None:
            card.dispose()
        if self.on_done is not None:
            self.on_done(signin)


class _AccountRow:
    def __init__(
        self, picker: AccountPicker, account: Account, *, current: bool, names: dict[str, str]
    ) -> None:
        import ipywidgets as w  # Lazy load

        self.account = account
        tenant = _tenant_label(names, account.tenant_id)
        details = [f"tenant {tenant}"]
        if account.home_tenant_id and account.home_tenant_id != account.tenant_id:
            details.append(f"home tenant {_tenant_label(names, account.home_tenant_id)}")
        details.append(method_label(account.method))
        mark = (
            '<span style="color:var(--jp-success-color1,#2e7d32)" title="current account">'
            f"{_CURRENT_MARK}</span> "
            if current
            else '<span style="visibility:hidden">' + _CURRENT_MARK + "</span> "
        )
        who = f"<b>{escape(account.username)}</b>" if current else escape(account.username)
        self.label = w.HTML(
            value=(
                f"<div>{mark}{who}{' (current)' if current else ''}</div>"
                f'<div style="padding-left:1.2em;opacity:0.75;font-size:0.9em">'
                f"{escape(_SEP.join(details))}</div>"
            ),
            layout=w.Layout(flex="1 1 auto"),
        )
        self.use_button = w.Button(
            description="Current" if current else "Use",
            disabled=current,
            tooltip=f"Make {account.username} the current account",
            layout=w.Layout(width="auto"),
        )
        self.logout_button = w.Button(
            description="Sign out",
            tooltip=f"Sign {account.username} out of this kernel",
            layout=w.Layout(width="auto"),
        )
        self.use_button.on_click(lambda _b: picker.use(account.username))
        self.logout_button.on_click(lambda _b: picker.logout(account.username))
        self.widget = w.HBox(
            [self.label, self.use_button, self.logout_button],
            layout=w.Layout(align_items="center"),
        )


class AccountPicker:
    """The accounts of a session as rows (Use / Sign out), an "Add account" button and a
    status line. ``widget`` is the ipywidgets root; displaying the picker shows it (with a
    ``text/plain`` fallback). ``on_change(account_or_None)`` runs after the current account
    changed because of this picker."""

    def __init__(
        self,
        session: Session,
        *,
        on_change: Callable[[Account | None], object] | None = None,
    ) -> None:
        import ipywidgets as w  # Lazy load: only widget front-ends pay for it.

        self.session = session
        self.on_change = on_change
        self.rows: dict[str, _AccountRow] = {}
        self.title = w.HTML(value="<b>Azure accounts in this kernel</b>")
        self.rows_box = w.VBox()
        self.add_button = w.Button(
            description="Add account",
            icon="plus",
            tooltip="Sign in with another account (device code)",
            layout=w.Layout(width="auto", align_self="flex-start"),
        )
        self.add_button.on_click(lambda _b: self.add_account())
        self.sign_in = InlineSignIn(on_done=self._sign_in_done)
        self.status = w.HTML(value="")
        self.widget = w.VBox(
            [self.title, self.rows_box, self.add_button, self.sign_in.widget, self.status],
            layout=w.Layout(max_width="60em"),
        )
        self.widget.add_class("nbauth-account-picker")
        self._lock = threading.RLock()
        self.refresh()

    # -- state -----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the rows from the session's accounts."""
        with self._lock:
            found = list_accounts(session=self.session)
            current = self.session.account
            names = tenant_names(self.session)
            rows = {}
            for account in found:
                is_current = (
                    current is not None and account.home_account_id == current.home_account_id
                )
                rows[account.username] = _AccountRow(self, account, current=is_current, names=names)
            old = list(self.rows.values())
            self.rows = rows
            self.rows_box.children = [r.widget for r in rows.values()]
            for row in old:  # free the front-end models of rows that are gone
                close_tree(row.widget)
            if not found:
                self.set_status(_NO_ACCOUNTS)

    def text(self) -> str:
        return accounts_text(self.session, [r.account for r in self.rows.values()])

    def set_status(self, text: str, *, error: bool = False) -> None:
        style = ' style="color:var(--jp-error-color1,#c62828)"' if error else ""
        self.status.value = f"<span{style}>{escape(text)}</span>" if text else ""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)  # ipywidgets: untyped
        data["text/plain"] = self.text()
        return data

    # -- actions (button handlers; also callable directly) --------------------------------------

    def use(self, username: str) -> None:
        try:
            account = use_account(username, session=self.session)
        except NbauthError as exc:
            self.set_status(str(exc).splitlines()[0], error=True)
            return
        self.refresh()
        self.set_status(f"Now using {account.username}.")
        self._changed(account)

    def logout(self, username: str) -> None:
        before = self.session.account
        try:
            account = logout_account(username, session=self.session)
        except NbauthError as exc:
            self.set_status(str(exc).splitlines()[0], error=True)
            return
        self.refresh()
        was_current = before is not None and before.home_account_id == account.home_account_id
        if not self.rows:
            self.set_status(f"Signed out {account.username}. {_NO_ACCOUNTS}")
        elif was_current:
            self.set_status(
                f"Signed out {account.username}. No account is current: choose one above."
            )
        else:
            self.set_status(f"Signed out {account.username}.")
        if was_current:
            self._changed(None)

    def add_account(self) -> SignIn | None:
        """Start a device-code sign-in for another account, shown inline."""
        if self.sign_in.pending:
            self.set_status("A sign-in is already waiting: use the code above, or Cancel it.")
            return None
        self.add_button.disabled = True
        self.set_status("Waiting for you to sign in with another account\u2026")
        try:
            return self.sign_in.start(lambda prompt: self.session.login(wait=False, prompt=prompt))
        except NbauthError as exc:
            self.add_button.disabled = False
            self.set_status(str(exc).splitlines()[0], error=True)
            return None

    def _sign_in_done(self, signin: SignIn) -> None:
        self.add_button.disabled = False
        if signin.status == SUCCEEDED and signin.account is not None:
            self.refresh()
            self.set_status(
                f"Signed in as {signin.account.username}; it is now the current account."
            )
            self._changed(signin.account)
        elif signin.status == CANCELLED:
            current = self.session.account
            still = f" {current.username} is still current." if current is not None else ""
            self.set_status(f"Sign-in cancelled.{still}")
        else:
            error = signin.error
            self.set_status(
                str(error).splitlines()[0] if error else f"Sign-in {signin.status}.", error=True
            )

    def _changed(self, account: Account | None) -> None:
        if self.on_change is not None:
            self.on_change(account)
