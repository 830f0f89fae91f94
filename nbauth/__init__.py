"""nbauth: sign in to Azure / Microsoft Entra ID once per Jupyter kernel.

In a notebook::

    %load_ext nbauth
    %azlogin

or in plain Python::

    import nbauth
    nbauth.login()                       # device code, shown as text or a card
    blobs = BlobServiceClient(url, credential=nbauth.credential())

Importing this package is cheap on purpose: msal, azure-identity and ipywidgets are imported on
first use, so ``%load_ext nbauth`` costs a notebook nothing until someone signs in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Public name -> private module that defines it. Resolved on first attribute access (PEP 562) so
# that `import nbauth` pays for none of msal, azure.identity, azure.core or ipywidgets.
_LAZY: dict[str, str] = {
    # sign-in and the kernel credential
    "login": "nbauth._api",
    "logout": "nbauth._api",
    "credential": "nbauth._api",
    "async_credential": "nbauth._api",
    "current_account": "nbauth._api",
    "session": "nbauth._kernel",
    "Session": "nbauth._session",
    "Account": "nbauth._signin",
    "SignIn": "nbauth._signin",
    "DeviceCodePrompt": "nbauth._prompt",
    "BrowserPrompt": "nbauth._prompt",
    # Through _api, which provides the kernel session these default to.
    "NotebookCredential": "nbauth._api",
    "AsyncNotebookCredential": "nbauth._api",
    # the notebook's sign-in for its compute: Dask workers, process pools, subprocesses
    # (through _grants_api, which provides the kernel session they act on)
    "worker_credential": "nbauth._grants_api",
    "async_worker_credential": "nbauth._grants_api",
    "export_identity": "nbauth._grants_api",
    "unexport_identity": "nbauth._grants_api",
    "WorkerCredential": "nbauth._worker_credential",
    "AsyncWorkerCredential": "nbauth._worker_credential",
    # staying signed in across kernel restarts
    "Persistence": "nbauth._persistence",
    "PersistenceWarning": "nbauth._persistence",
    # the auto chain and service / developer-tool methods
    "AutoReport": "nbauth._methods.auto",
    "AutoSignInFailed": "nbauth._methods.auto",
    "last_auto_report": "nbauth._whoami",
    "MethodUnavailable": "nbauth._methods._unavailable",
    # clouds (login(cloud=...) takes a name, a dict, a JSON file path or a Cloud)
    "Cloud": "nbauth._clouds",
    # who is signed in
    "whoami": "nbauth._whoami",
    "WhoAmI": "nbauth._whoami",
    # accounts and subscriptions (through _api, which provides the kernel session they default to)
    "accounts": "nbauth._accounts",
    "use_account": "nbauth._accounts",
    "logout_account": "nbauth._accounts",
    "tenants": "nbauth._api",
    "subscriptions": "nbauth._api",
    "set_subscription": "nbauth._api",
    "subscription_id": "nbauth._api",
    "current_subscription": "nbauth._api",
    "Tenant": "nbauth._subscriptions",
    "Subscription": "nbauth._subscriptions",
    "ResourceManagerError": "nbauth._arm",
    # errors
    "NbauthError": "nbauth._errors",
    "AuthenticationError": "nbauth._errors",
    "AuthenticationRequired": "nbauth._errors",
    "SignInError": "nbauth._errors",
    "SignInCancelled": "nbauth._errors",
    "SignInDeclined": "nbauth._errors",
    "SignInExpired": "nbauth._errors",
    "SignInTimeout": "nbauth._errors",
    "EntraError": "nbauth._errors",
    "InteractionRequired": "nbauth._errors",
    "ConfigurationError": "nbauth._errors",
    "PastedAddressError": "nbauth._base_errors",
}

__all__ = sorted([*_LAZY, "__version__", "load_ipython_extension", "unload_ipython_extension"])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nbauth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__


# magic -> the Magics class that provides it. ``%load_ext`` declares them lazily: IPython imports
# nbauth._magics the first time one is used (or shown by ``?``), so loading the extension costs a
# notebook almost nothing (benchmarks: startup-cost, %load_ext adds <= 50 ms).
_MAGICS = {
    "azlogin": "nbauth._magics:LoginMagics",
    "azlogout": "nbauth._magics:LoginMagics",
    "azwhoami": "nbauth._magics:LoginMagics",
    "azaccount": "nbauth._magics:AccountMagics",
    "azsubscription": "nbauth._magics:AccountMagics",
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbauth``: declare the magics, and give the kernel's session the inline
    re-prompt: a sign-in needed in the middle of a cell (revoked, MFA, claims) then appears in
    that cell, as %azlogin's card does."""
    import sys

    from nbauth._kernel_setup import on_kernel_session

    manager = ipython.magics_manager
    if hasattr(manager, "register_lazy") and "nbauth._magics" not in sys.modules:
        for name, spec in _MAGICS.items():
            manager.register_lazy(name, spec, "line")
    else:  # loaded before (IPython loads a lazy class once), or an IPython without lazy magics
        from nbauth._magics import register

        register(ipython)
    # When the session is made, not now: making it would load azure-core at %load_ext.
    on_kernel_session(_install_reprompt)


def _install_reprompt(session: Any) -> None:
    # Imported when the kernel's session is made, which loads the UI's modules anyway.
    from nbauth._ui.reprompt import install

    install(session)


def unload_ipython_extension(ipython: Any) -> None:
    from nbauth._magics import unregister

    unregister(ipython)
    manager = ipython.magics_manager
    for name, spec in _MAGICS.items():  # declarations never loaded
        if manager.lazy_magics.get(name) == spec:
            manager.lazy_magics.pop(name, None)
            manager.magics["line"].pop(name, None)


if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from nbauth._api import async_credential, credential, current_account, login, logout
    from nbauth._credential import NotebookCredential
    from nbauth._errors import (
        AuthenticationError,
        AuthenticationRequired,
        ConfigurationError,
        EntraError,
        NbauthError,
        SignInCancelled,
        SignInDeclined,
        SignInError,
        SignInExpired,
        SignInTimeout,
    )
    from nbauth._grants_api import (
        async_worker_credential,
        export_identity,
        unexport_identity,
        worker_credential,
    )
    from nbauth._kernel import session
    from nbauth._prompt import DeviceCodePrompt
    from nbauth._session import Session
    from nbauth._signin import Account, SignIn
    from nbauth._worker_credential import AsyncWorkerCredential, WorkerCredential
    from nbauth.aio import AsyncNotebookCredential
