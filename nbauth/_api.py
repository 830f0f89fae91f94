"""The module-level functions: what ``nbauth.login()`` and its twins do in this kernel.

Each is the plain-function twin of a magic (``%azlogin`` ... ``%azlogout``) and takes the same
defaults. They act on the kernel's session (`nbauth._kernel.session`); inside a Jupyter kernel
`login` shows the sign-in as ``%azlogin`` does (card, then badge).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import _arguments, _clouds
from ._base_errors import ConfigurationError
from ._credential import NotebookCredential
from ._hidden import HiddenValues
from ._kernel import session
from ._subscriptions import (
    current_subscription,
    set_subscription,
    subscription_id,
    subscriptions,
    tenants,
)
from ._ui.display import one_line
from ._ui.display import sign_in as show_sign_in
from .aio import AsyncNotebookCredential

if TYPE_CHECKING:
    from ._persistence import Persistence
    from ._prompt import Prompt
    from ._signin import Account, SignIn

__all__ = [
    "AsyncNotebookCredential",
    "NotebookCredential",
    "async_credential",
    "credential",
    "current_account",
    "current_subscription",
    "login",
    "logout",
    "set_subscription",
    "subscription_id",
    "subscriptions",
    "tenants",
]


def login(
    method: str = "auto",
    *,
    tenant: str | None = None,
    client_id: str | None = None,
    scopes: Iterable[str] | str | None = None,
    authority_host: str | None = None,
    wait: bool = True,
    timeout: float | None = None,
    prompt: Callable[[Prompt], object] | None = None,
    persistence: Persistence | str | None = None,
    allow_unencrypted: bool | None = None,
    cloud: _clouds.Cloud | str | Mapping[str, Any] | None = None,
    **options: Any,
) -> SignIn:
    """Sign in to Azure / Entra ID for this kernel.

    In [1]: nbauth.login()                        # auto, as %azlogin: blocks until done
    In [2]: s = nbauth.login("device_code", wait=False); s.prompt.user_code

    ``method`` defaults to ``"auto"``, as ``%azlogin``'s does: a service principal in the
    environment, a managed identity, the Azure CLI... are used silently, and a person is asked
    (the device-code card) only when none of them signs in.

    ``tenant`` defaults to 'organizations', ``client_id`` to the Azure CLI's public client,
    ``authority_host`` to $AZURE_AUTHORITY_HOST or the public cloud, ``scopes`` to Azure
    Resource Manager. ``wait=True`` shows the prompt and blocks (the stop button cancels);
    ``wait=False`` returns the pending `SignIn` at once. ``prompt`` receives a
    `DeviceCodePrompt` (default: print it). ``persistence`` ("none", "read_write", "reauth")
    and ``allow_unencrypted``: stay signed in across kernel restarts; see
    `Session.set_persistence`. ``cloud``: ``"public"``, ``"china"``, ``"usgov"``, a dict or
    the path of a JSON file describing a cloud (see `nbauth._clouds`); it sets the authority
    host, the default scope and the Resource Manager endpoint. Other keyword arguments are the
    method's own
    (e.g. ``client_secret=`` for ``method="client_secret"``); a method rejects ones it does
    not know, naming them but never their values.

    Inside a Jupyter kernel, with no ``prompt``, the sign-in is shown as ``%azlogin`` shows it
    (the device-code card, then the signed-in badge) instead of printed text. A browser
    sign-in finished by pasting back its address (a remote kernel, or a tenant that refuses
    device code) returns pending once the card shows the page, even with ``wait=True``: the
    card takes the address only while the kernel is idle. Cells that need a token wait for it;
    from Python, ``signin.complete(address)`` finishes it (`nbauth.BrowserPrompt`).
    """
    options = HiddenValues(options)  # secrets: see nbauth._hidden
    try:
        # Checked here too: inside a kernel the display starts the sign-in and waits itself.
        timeout = _arguments.seconds(timeout)
        _arguments.flag(wait, "wait")
        kernel_session = session()
        arguments: dict[str, Any] = dict(
            method=method,
            tenant=tenant,
            client_id=client_id,
            scopes=scopes,
            authority_host=authority_host,
            wait=wait,
            timeout=timeout,
            persistence=persistence,
            allow_unencrypted=allow_unencrypted,
            cloud=cloud,
        )
        zmqshell = sys.modules.get("ipykernel.zmqshell")  # never imported just to find out
        if prompt is None and zmqshell is not None and zmqshell.ZMQInteractiveShell.initialized():
            # As %azlogin shows it: the card, then the badge.
            return show_sign_in(kernel_session, **arguments, **options)
        return kernel_session.login(prompt=prompt, **arguments, **options)
    except ConfigurationError as exc:
        # A refused argument is one sentence: IPython shows it without a traceback.
        raise one_line(exc) from None


def logout(all: bool = False) -> None:  # noqa: A002 - public name
    """Sign out the current account (``all=True``: every account this kernel signed in)."""
    session().logout(all=all)


def current_account() -> Account | None:
    """Who is signed in in this kernel, or None."""
    return session().account


def credential() -> NotebookCredential:
    """The kernel's `NotebookCredential`, for any Azure SDK client."""
    return session().credential()


def async_credential() -> AsyncNotebookCredential:
    """The kernel's `AsyncNotebookCredential`, for ``.aio`` Azure SDK clients."""
    return session().async_credential()
