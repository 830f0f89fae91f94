"""IPython magics: ``%azlogin``, ``%azlogout``, ``%azwhoami``, ``%azaccount``, ``%azsubscription``.

Imported only by ``%load_ext nbauth`` (see ``nbauth.load_ipython_extension``).
"""

from __future__ import annotations

from typing import Any


def _magic_classes() -> list[type]:
    from nbauth._magics.accounts import AccountMagics
    from nbauth._magics.login import LoginMagics

    return [LoginMagics, AccountMagics]


def register(ipython: Any) -> None:
    for cls in _magic_classes():
        ipython.register_magics(cls(shell=ipython))


def unregister(ipython: Any) -> None:
    registered = {type(m) for m in ipython.magics_manager.registry.values()}
    for cls in _magic_classes():
        if cls in registered:
            instance = ipython.magics_manager.registry[cls.__name__]
            for kind, names in instance.magics.items():
                for name in names:
                    ipython.magics_manager.magics[kind].pop(name, None)
            ipython.magics_manager.registry.pop(cls.__name__, None)
