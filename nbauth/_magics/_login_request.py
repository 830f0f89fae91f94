"""A ``%azlogin`` line, checked and with its defaults applied: a `LoginRequest`.

Everything is checked before anything changes, so a refused line leaves the kernel as it was.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _clouds
from .._arguments import shown
from .._base_errors import ConfigurationError
from .._methods import available, canonical_name
from .._scopes import normalize_scopes
from ._login_options import check_account, method_options

if TYPE_CHECKING:
    from .._session import Session

__all__ = ["LoginRequest", "cloud_names", "login_request", "method_name", "method_names"]


@dataclass(frozen=True)
class LoginRequest:
    """A parsed ``%azlogin``, defaults applied. Holds no secret (a password is asked for only
    when the sign-in starts and goes straight to it)."""

    session: Session
    method: str
    """Canonical method name (`nbauth._methods.canonical_name`)."""
    authority_host: str | None
    """None: the session's default."""
    cloud: _clouds.Cloud | None
    """The ``--cloud`` given, resolved (None: the session's default)."""
    tenant: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    account: str | None
    wait: bool
    ui: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    """Method options from the line (``--auth-file``, ``--option``...); never secrets."""

    def login_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Session.login` / `ui_display.sign_in`."""
        kwargs: dict[str, Any] = {
            "method": self.method,
            "tenant": self.tenant,
            "client_id": self.client_id,
            "scopes": self.scopes,
            "authority_host": self.authority_host,
        }
        if self.cloud is not None:
            kwargs["cloud"] = self.cloud  # the session then follows this cloud (ARM, scopes)
        return kwargs


def method_names() -> str:
    return ", ".join(available())


def cloud_names() -> str:
    short = [name for name, cloud in _clouds.CLOUD_NAMES.items() if name != cloud.name.lower()]
    az_names = dict.fromkeys(cloud.name for cloud in _clouds.CLOUD_NAMES.values())
    return f"{', '.join(short)} (or az's {', '.join(az_names)})"


def method_name(value: str) -> str:
    """``--method``: a method's name or alias, as its canonical name."""
    try:
        return canonical_name(value)
    except ConfigurationError:
        raise UsageError(
            f"Unknown sign-in method {value!r}. %azlogin accepts --method {method_names()} "
            f"(and aliases such as az, cli, msi, env, cert, interactive_browser)."
        ) from None


def _cloud(value: str) -> _clouds.Cloud:
    """``--cloud``: a cloud name or the path of a JSON file describing one."""
    text = os.path.expanduser(value.strip())
    key = text.lower().replace("-", "").replace("_", "")
    if key not in _clouds.CLOUD_NAMES and not (text.endswith(".json") or os.path.isfile(text)):
        raise UsageError(
            f"Unknown cloud {shown(value)}. %azlogin accepts --cloud {cloud_names()}, or the "
            f"path of a JSON file describing a cloud (authority_host, arm_endpoint; an nbauth "
            f"emulator's ready file works too)."
        )
    try:
        # Registered only once the whole line is accepted (see AzloginMagics.azlogin).
        return _clouds.parse_cloud(text)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None


def login_request(args: Any, method: str, session: Session, ui: str) -> LoginRequest:
    """The parsed line `args` of a sign-in with `method` on `session`, checked."""
    cloud = _cloud(args.cloud) if args.cloud is not None else None
    if args.account is not None:
        check_account(args.account, method)
    options = method_options(args, method)
    try:
        tenant = _clouds.validate_tenant(args.tenant) if args.tenant else None
        host = cloud.authority_host if cloud is not None else session.authority_host
        scopes = (
            normalize_scopes(args.scopes, "--scope")
            if args.scopes
            else ((cloud or _clouds.cloud_for(host)).arm_scope,)
        )
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    return LoginRequest(
        session=session,
        method=method,
        authority_host=cloud.authority_host if cloud is not None else None,
        cloud=cloud,
        tenant=tenant,
        client_id=args.client_id,
        scopes=scopes,
        account=args.account,
        wait=not args.no_wait,
        ui=ui,
        options=MappingProxyType(options),
    )
