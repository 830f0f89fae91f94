"""``nbauth.export_identity()`` / ``%azlogin --export``: child processes signed in, unchanged.

It sets ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` for processes started later from the kernel
(``!python script.py``, ``subprocess``, a Dask ``LocalCluster``). They point at the kernel's
loopback relay (`nbauth._grant_relay`), which answers the App Service managed-identity protocol
(the one Azure Cloud Shell uses for its signed-in user): unmodified azure-identity
``DefaultAzureCredential`` / ``ManagedIdentityCredential`` code there gets the notebook user's
tokens, for the resources allowed here only (default: Storage, Resource Manager, Key Vault).

``IDENTITY_HEADER`` is a random secret compared in constant time; nothing shows it. A sign-out
(or `unexport_identity`) puts the variables back as they were and makes the relay refuse, saying
why. The kernel's own ``auto`` chain skips its own export (`nbauth._export_marker`).
"""

from __future__ import annotations

import os
import secrets
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _export_marker
from ._base_errors import ConfigurationError, redact
from ._clouds import AZURE_PUBLIC
from ._errors import AuthenticationRequired
from ._grant_engine import checked_grant_scopes
from ._grant_relay import IDENTITY_PATH, Answer
from ._grants import GrantSummary, grants_for
from ._signin_status import SUCCEEDED

if TYPE_CHECKING:
    from ._session import Session
    from ._signin import SignIn

__all__ = [
    "default_export_scopes",
    "export_after_sign_in",
    "export_identity",
    "unexport_identity",
]

_VARIABLES = ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")
# A user-assigned identity asked for by name: the export is the person's sign-in, not one.
_IDENTITY_NAMES = ("client_id", "object_id", "mi_res_id", "msi_res_id", "principal_id")
REASON_STOPPED = "The notebook stopped exporting its sign-in"


def default_export_scopes(session: Session) -> tuple[str, ...]:
    """Storage, Resource Manager and Key Vault, in the session's cloud (the public cloud's
    audiences for a cloud that does not name them, as the emulator's)."""
    cloud = session.cloud
    out = []
    for name in ("storage", "arm", "keyvault"):
        try:
            out.append(cloud.scope(name))
        except ConfigurationError:
            out.append(AZURE_PUBLIC.scope(name))
    return tuple(out)


def _resource(scope: str) -> str:
    # What azure-identity sends for a scope: the scope without "/.default".
    resource = scope[: -len("/.default")] if scope.endswith("/.default") else scope
    return resource.rstrip("/")


@dataclass(eq=False)
class IdentityExport:
    """One export: its secret header, its resources and what it replaced in the environment."""

    session: weakref.ReferenceType[Session]
    account_id: str
    endpoint: str
    header: str = field(repr=False)
    scopes: dict[str, str]
    """Resource (no trailing slash) -> the scope the kernel asks for."""
    previous: dict[str, str | None]
    ended: str | None = None
    served: int = 0

    def answer(self, query: Mapping[str, list[str]], header: str | None) -> Answer:
        """The relay's managed-identity route (see the module docstring)."""
        if header is None or not secrets.compare_digest(header.encode(), self.header.encode()):
            return _refusal(401, "The X-IDENTITY-HEADER is missing or wrong.")
        if self.ended is not None:
            return _refusal(410, f"{self.ended}; sign in there again and export again.")
        if any(name in query for name in _IDENTITY_NAMES):
            return _refusal(
                400,
                "This endpoint gives the notebook user's tokens; it has no user-assigned "
                "managed identity (unset AZURE_CLIENT_ID in this process).",
            )
        resource = (query.get("resource") or [""])[0]
        scope = self.scopes.get(_resource(resource))
        if scope is None:
            allowed = ", ".join(self.scopes)
            return _refusal(403, f"The notebook exports tokens only for {allowed}.")
        session = self.session()
        account = session.account if session is not None else None
        if session is None or account is None or account.home_account_id != self.account_id:
            return _refusal(410, "The notebook's account changed; export again there.")
        try:
            entry = session.tokens.get((scope,), None, None, False)
        except Exception as exc:  # noqa: BLE001 - said to the child as the service would
            text = redact(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            return _refusal(503, f"The notebook could not get a token: {text}")
        self.served += 1
        return 200, {
            "access_token": entry.token,
            "expires_on": str(int(entry.expires_on)),
            "resource": resource,
            "token_type": "Bearer",
        }

    def end(self, reason: str) -> None:
        """Refuse from now on, and put the environment back (if it still holds this export)."""
        if self.ended is not None:
            return
        self.ended = reason
        ours = {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header}
        if all(os.environ.get(name) == value for name, value in ours.items()):
            for name, value in self.previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if _export_marker.is_own_export(self.endpoint):
            _export_marker.exported(None)

    def summary(self) -> GrantSummary:
        return GrantSummary(
            tuple(self.scopes.values()),
            f"exported to processes started from this kernel (IDENTITY_ENDPOINT {self.endpoint}, "
            f"{self.served} token{'s' if self.served != 1 else ''} served)",
            refreshes=None,
        )


def _refusal(status: int, message: str) -> Answer:
    # App Service's error shape; msal shows "statusCode, message" to the child.
    return status, {"statusCode": status, "message": message}


def export_identity(session: Session, scopes: Iterable[str] | str | None = None) -> str:
    """Export the signed-in account to processes started later (see the module docstring);
    returns the ``IDENTITY_ENDPOINT``. ``scopes``: what they may get (default:
    `default_export_scopes`). Exporting again replaces the previous export."""
    if session.account is None:
        raise AuthenticationRequired(
            "Nobody is signed in in this kernel, so there is nothing to export. Run `%azlogin` "
            "(or `nbauth.login()`) first, then export."
        )
    if isinstance(scopes, str):
        scopes = [scopes]
    checked = checked_grant_scopes(scopes) if scopes is not None else default_export_scopes(session)
    grants = grants_for(session)
    relay = grants.relay()
    previous: dict[str, str | None] = {name: os.environ.get(name) for name in _VARIABLES}
    replaced = grants.export
    if isinstance(replaced, IdentityExport) and replaced.ended is None:
        previous = replaced.previous  # back to what was there before any export
        replaced.end(REASON_STOPPED)
    export = IdentityExport(
        weakref.ref(session),
        session.account.home_account_id,
        relay.url + IDENTITY_PATH,
        secrets.token_urlsafe(32),
        {_resource(scope): scope for scope in checked},
        previous,
    )
    relay.identity = export.answer
    os.environ["IDENTITY_ENDPOINT"] = export.endpoint
    os.environ["IDENTITY_HEADER"] = export.header
    _export_marker.exported(export.endpoint)
    grants.export = export
    return export.endpoint


def unexport_identity(session: Session) -> bool:
    """Stop exporting; True if an export was on."""
    grants = grants_for(session)
    export: Any = grants.export
    grants.export = None
    if export is None or export.ended is not None:
        return False
    export.end(REASON_STOPPED)
    return True


def export_after_sign_in(session: Session, scopes: Iterable[str] | None) -> None:
    """``%azlogin --export``: export now, or once the sign-in still pending (``--no-wait``, a
    browser sign-in waiting for its pasted address) succeeds."""
    pending = session.pending
    if pending is None:
        export_identity(session, scopes)
        return

    def on_done(signin: SignIn) -> None:
        if signin.status == SUCCEEDED:
            export_identity(session, scopes)

    pending.add_done_callback(on_done)
