"""IPython magics: ``%azlogin``, ``%azlogout``, ``%azwhoami``, ``%azaccount``, ``%azsubscription``.

One module per magic, named after it; the helpers beside them (``_login_options``,
``_login_request``, ``_login_flow``, ``_password_prompt``, ``_var_names``, ``_picker_magics``,
``_parsing``, ``_base``) hold what the magics share. IPython registers Magics classes, and
users configure them by name, so the magics are assembled into the two classes they always
had: `LoginMagics` and `AccountMagics`.

Imported only by ``%load_ext nbauth`` (see ``nbauth.load_ipython_extension``).
"""

from __future__ import annotations

from typing import Any

from ._base import assembled
from .azaccount import AzaccountMagics
from .azlogin import AzloginMagics
from .azlogout import AzlogoutMagics
from .azsubscription import AzsubscriptionMagics
from .azwhoami import AzwhoamiMagics

__all__ = ["AccountMagics", "LoginMagics", "register", "unregister"]


@assembled
class LoginMagics(AzloginMagics, AzlogoutMagics, AzwhoamiMagics):
    """``%azlogin``, ``%azlogout``, ``%azwhoami``.

    Configurable like any IPython magics, e.g. ``c.LoginMagics.ui = "text"`` (never widgets) or
    ``c.LoginMagics.method = "device_code"`` (always a new sign-in) in ipython_config.py.
    """


@assembled
class AccountMagics(AzaccountMagics, AzsubscriptionMagics):
    """``%azaccount`` and ``%azsubscription``. Configurable, e.g. in ipython_config.py::

    c.AccountMagics.ui = "text"        # never widgets
    """


_MAGIC_CLASSES = (LoginMagics, AccountMagics)


def register(ipython: Any) -> None:
    for cls in _MAGIC_CLASSES:
        ipython.register_magics(cls(shell=ipython))


def unregister(ipython: Any) -> None:
    registered = {type(m) for m in ipython.magics_manager.registry.values()}
    for cls in _MAGIC_CLASSES:
        if cls in registered:
            instance = ipython.magics_manager.registry[cls.__name__]
            for kind, names in instance.magics.items():
                for name in names:
                    ipython.magics_manager.magics[kind].pop(name, None)
            ipython.magics_manager.registry.pop(cls.__name__, None)
