"""What every nbauth magics class shares: how it shows things and which session it works on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, magics_class
from traitlets import Any as AnyTrait
from traitlets import CaselessStrEnum, default

from .._base_errors import ConfigurationError
from .._ui import display as ui_display

if TYPE_CHECKING:
    from .._session import Session

_M = TypeVar("_M", bound=Magics)


@magics_class
class SessionMagics(Magics):
    """Base of the nbauth magics. ``c.SessionMagics.ui = "text"`` configures all of them."""

    ui = CaselessStrEnum(
        list(ui_display.UI_CHOICES),
        default_value="auto",
        help="How sign-ins and pickers are shown: 'auto' (widgets in a Jupyter kernel, text "
        "elsewhere), 'widgets' or 'text'.",
    ).tag(config=True)
    # Any, not Instance("nbauth._session.Session"): traitlets imports an Instance's class
    # when the magics are built, and the session module loads azure-core.
    session = AnyTrait(help="The Session to work on (default: the kernel's, nbauth.session()).")

    @default("session")
    def _kernel_session(self) -> Session:
        # Resolved on first use, not at %load_ext: the session pulls in azure-core. The kernel
        # session gets the inline re-prompt when it is created (see nbauth._session.session).
        from .._kernel import session as kernel_session

        return kernel_session()

    def __init__(self, shell: Any = None, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        if session is not None:
            self.session = session
        for table in self.magics.values():
            for name, magic in table.items():
                table[name] = _usage_errors(magic)


def _usage_errors(magic: Callable[..., Any]) -> Callable[..., Any]:
    """`magic`, with any `ConfigurationError` it lets through shown as one line.

    A bad setting (``$NBAUTH_PERSIST=sometimes``) can surface wherever the session is used,
    including magics that have no input of their own to check, such as ``%azwhoami``; IPython
    shows a `UsageError` as its message, where anything else gets a traceback.
    """

    @functools.wraps(magic)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return magic(*args, **kwargs)
        except ConfigurationError as exc:
            raise UsageError(str(exc)) from None

    return run


def assembled(cls: type[_M]) -> type[_M]:
    """`magics_class` for a class made of per-magic classes: it holds the magics of its bases.

    `magics_class` records only the magics defined in the class's own body; IPython registers a
    class's table, so the one class that config names (``c.LoginMagics``) gets all of them.
    """
    cls = magics_class(cls)
    table: dict[str, dict[str, Any]] = {"line": {}, "cell": {}}
    for base in reversed(cls.__mro__):
        for kind, names in vars(base).get("magics", {}).items():
            table.setdefault(kind, {}).update(names)
    cls.magics = table
    return cls
