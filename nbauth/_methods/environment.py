"""Sign in as the service principal the environment names, via azure-identity's
``EnvironmentCredential``:

- ``AZURE_TENANT_ID`` + ``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_SECRET``, or
- ``AZURE_TENANT_ID`` + ``AZURE_CLIENT_ID`` + ``AZURE_CLIENT_CERTIFICATE_PATH`` (PEM or PKCS12
  with its private key; ``AZURE_CLIENT_CERTIFICATE_PASSWORD`` if it has one).

``AZURE_AUTHORITY_HOST`` picks the cloud, as for every nbauth sign-in. A partial set is named
variable by variable (never with its value). Takes no options.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._identity_source import identity_kwargs, sign_in_with, translated
from ._method import AutoPlace, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "configured_variables", "start", "unavailable"]

METHOD = "environment"
LABEL = "the service principal in the environment"
FIX = (
    "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
    "AZURE_CLIENT_CERTIFICATE_PATH) before starting Jupyter, or pass the values to "
    "nbauth.login('client_secret', ...) instead."
)

_COMMON = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID")
_SECRET = "AZURE_CLIENT_SECRET"
_CERTIFICATE = "AZURE_CLIENT_CERTIFICATE_PATH"
_ALL = (*_COMMON, _SECRET, _CERTIFICATE)


def _is_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def configured_variables() -> tuple[str, ...]:
    """Which of the service principal variables are set (names only)."""
    return tuple(name for name in _ALL if _is_set(name))


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    """Why this method cannot work here without trying (no network), or None."""
    have = set(configured_variables())
    missing = [name for name in _COMMON if name not in have]
    if not missing and (_SECRET in have or _CERTIFICATE in have):
        return None
    if not have:
        return MethodUnavailable(METHOD, f"none of {', '.join(_ALL)} is set", FIX)
    if _SECRET not in have and _CERTIFICATE not in have:
        missing.append(f"{_SECRET} (or {_CERTIFICATE})")
    return MethodUnavailable(
        METHOD,
        f"{' and '.join(sorted(have, key=_ALL.index))} "
        f"{'is' if len(have) == 1 else 'are'} set but {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} missing",
        FIX,
    )


def start(session: Session, request: SignInRequest) -> SignIn:
    missing = unavailable(request)
    if missing is not None:
        raise missing
    certificate = os.environ.get(_CERTIFICATE, "").strip()
    if not _is_set(_SECRET) and not os.path.isfile(certificate):
        raise MethodUnavailable(
            METHOD,
            f"{_CERTIFICATE} names a file that does not exist ({certificate})",
            f"Point {_CERTIFICATE} at the PEM or PKCS12 file holding the certificate and its "
            f"private key.",
        )
    from azure.identity import EnvironmentCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential = EnvironmentCredential(
            additionally_allowed_tenants=["*"], **identity_kwargs(request.authority_host)
        )
    return sign_in_with(session, request, credential, label=LABEL, fix=FIX)


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("env",),
    azure_identity=True,
    auto=AutoPlace(
        "environment service principal", "environmentcredential", "prod", True, order=10
    ),
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
