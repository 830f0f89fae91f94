"""Sign in with a JSON auth file, the format ``az ad sp create-for-rbac --sdk-auth`` prints::

    {"clientId": "...", "clientSecret": "...", "subscriptionId": "...", "tenantId": "...",
     "activeDirectoryEndpointUrl": "https://login.microsoftonline.com",
     "resourceManagerEndpointUrl": "https://management.azure.com/",
     "managementEndpointUrl": "https://management.core.windows.net/", ...}

(``clientCertificate`` — a PEM/PKCS12 path, relative to the file — and
``clientCertificatePassword`` may replace ``clientSecret``.)

Option ``auth_file``: the file's path, or the same fields as a dict; else ``$AZURE_AUTH_LOCATION``.
The file's endpoints are honoured: ``activeDirectoryEndpointUrl`` is the authority,
``resourceManagerEndpointUrl`` the Resource Manager nbauth lists subscriptions from (with
``managementEndpointUrl`` as its token audience when it is not a known cloud's); its
``subscriptionId`` becomes this kernel's subscription. Messages name the file and the field, never a value. A file every user
of the machine can read gets a warning: it holds a secret.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import _clouds
from .._errors import ConfigurationError, NbauthError, redact
from .._subscriptions import set_subscription
from ._identity_source import identity_kwargs, sign_in_with, translated
from ._method import Flag, Method
from ._unavailable import MethodUnavailable

if TYPE_CHECKING:
    from .._session import Session as WholeSession
    from .._signin import SignIn
    from . import SignInRequest
    from ._host import SessionHost as Session

__all__ = ["DECLARATION", "FIX", "LABEL", "METHOD", "AuthFile", "read_auth_file", "start", "unavailable"]

METHOD = "auth_file"
LABEL = "the auth file's service principal"
FIX = (
    "Pass auth_file='path/to/sp.json' (what `az ad sp create-for-rbac --sdk-auth` prints) or "
    "set AZURE_AUTH_LOCATION to its path."
)
ENV = "AZURE_AUTH_LOCATION"


class AuthFile:
    """The fields nbauth uses from an auth file. Its repr never shows the secret."""

    def __init__(self, where: str, fields: Mapping[str, Any], base_dir: Path | None) -> None:
        self.where = where

        def required(name: str) -> str:
            value = text(name)
            if value is None:
                raise ConfigurationError(f"The {where} has no {name!r} field. {FIX}")
            return value

        def text(name: str) -> str | None:
            value = fields.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                return None
            if not isinstance(value, str):
                raise ConfigurationError(f"The {name!r} field of the {where} must be a string.")
            return value.strip()

        self.client_id = required("clientId")
        self.tenant_id = required("tenantId")
        self._secret = text("clientSecret")
        certificate = text("clientCertificate")
        self._certificate_password = text("clientCertificatePassword")
        if self._secret is None and certificate is None:
            raise ConfigurationError(
                f"The {where} has neither a 'clientSecret' nor a 'clientCertificate' field. {FIX}"
            )
        if certificate is not None and base_dir is not None:
            certificate = str(base_dir / os.path.expanduser(certificate))
        self.certificate_path = certificate
        self.subscription_id = text("subscriptionId")
        self.authority_host = None
        ad = text("activeDirectoryEndpointUrl")
        if ad is not None:
            try:
                self.authority_host = _clouds.normalize_authority_host(ad.rstrip("/"))
            except ConfigurationError:
                raise ConfigurationError(
                    f"The 'activeDirectoryEndpointUrl' field of the {where} must be an https URL "
                    f"such as 'https://login.microsoftonline.com'."
                ) from None
        self.management_endpoint = text("managementEndpointUrl")
        self.resource_manager_endpoint = text("resourceManagerEndpointUrl")

    def __repr__(self) -> str:
        return f"<AuthFile {self.where} client_id={self.client_id} tenant_id={self.tenant_id}>"

    def credential_kwargs(self) -> dict[str, Any]:
        if self._secret is not None:
            return {"client_secret": self._secret}
        assert self.certificate_path is not None
        if not os.path.isfile(self.certificate_path):
            raise ConfigurationError(
                f"The 'clientCertificate' of the {self.where} names a file that does not exist "
                f"({self.certificate_path})."
            )
        kwargs: dict[str, Any] = {"certificate_path": self.certificate_path}
        if self._certificate_password is not None:
            kwargs["password"] = self._certificate_password
        return kwargs


def _source(request: SignInRequest) -> Any:
    given = request.options.get("auth_file")
    if given is not None:
        return given
    return os.environ.get(ENV, "").strip() or None


def read_auth_file(given: str | os.PathLike[str] | Mapping[str, Any]) -> AuthFile:
    """Parse an auth file (a path) or its fields (a mapping); errors name file and field."""
    if isinstance(given, Mapping):
        return AuthFile("auth_file dict", given, None)
    if not isinstance(given, (str, os.PathLike)):
        raise ConfigurationError(
            "auth_file= must be the path of a JSON auth file or a dict of its fields."
        )
    path = Path(os.path.expanduser(os.fspath(given)))
    where = f"The auth file {path}"
    try:
        raw = path.read_text(encoding="utf-8-sig")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigurationError(f"{where} does not exist. {FIX}") from None
    except OSError as exc:
        raise ConfigurationError(f"{where} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{where} is not a text file. {FIX}") from None
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError as exc:
        # exc.msg and the position only: the text may hold the secret.
        raise ConfigurationError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except RecursionError:  # json's parser recurses once per nested bracket
        raise ConfigurationError(f"{where} nests too deeply to be an auth file. {FIX}") from None
    if not isinstance(fields, dict):
        raise ConfigurationError(f"{where} must hold a JSON object. {FIX}")
    if os.name == "posix" and mode & stat.S_IROTH:
        warnings.warn(
            f"{where} can be read by every user of this machine, and it holds a service "
            f"principal's credentials. Restrict it: chmod 600 {path}",
            UserWarning,
            stacklevel=4,
        )
    return AuthFile(f"auth file {path}", fields, path.parent)


def unavailable(request: SignInRequest) -> MethodUnavailable | None:
    if _source(request) is None:
        return MethodUnavailable(METHOD, f"no auth_file= was given and {ENV} is not set", FIX)
    return None


def _cloud(auth: AuthFile, host: str) -> _clouds.Cloud:
    """The file's cloud: the known one for its authority, unless the file names another
    Resource Manager (Azure Stack, a private cloud, an emulator), which is then registered
    with the file's ``managementEndpointUrl`` as its token audience."""
    current = _clouds.cloud_for(host)
    arm = auth.resource_manager_endpoint
    if not arm or arm.rstrip("/") + "/" == current.arm_endpoint:
        return current
    return _clouds.register(
        _clouds.Cloud(
            name=f"{current.name} (auth file)",
            authority_host=host,
            arm_endpoint=arm.rstrip("/") + "/",
            arm_resource=auth.management_endpoint or current.arm_resource or current.arm_endpoint,
            resources=current.resources,
        )
    )


def start(session: Session, request: SignInRequest) -> SignIn:
    missing = unavailable(request)
    if missing is not None:
        raise missing
    auth = read_auth_file(_source(request))
    host = auth.authority_host or request.authority_host
    # Scopes left at their default follow the file's cloud (compared before registering it).
    default = request.scopes == (_clouds.cloud_for(request.authority_host).arm_scope,)
    cloud = _cloud(auth, host)
    scopes = (cloud.arm_scope,) if default else request.scopes
    kwargs = auth.credential_kwargs()
    from azure.identity import CertificateCredential, ClientSecretCredential  # Lazy load

    with translated(METHOD, LABEL, FIX):
        credential_class = (
            ClientSecretCredential if "client_secret" in kwargs else CertificateCredential
        )
        credential = credential_class(
            auth.tenant_id,
            auth.client_id,
            additionally_allowed_tenants=["*"],
            **kwargs,
            **identity_kwargs(host),
        )
    signin = sign_in_with(
        session,
        request,
        credential,
        label=f"{LABEL} ({auth.where})",
        fix=FIX,
        authority_host=host,
        scopes=scopes,
    )
    if auth.subscription_id:
        _select_subscription(session, auth, auth.subscription_id)
    return signin


def _select_subscription(session: Session, auth: AuthFile, subscription_id: str) -> None:
    """Make the file's subscription current; a sign-in that worked is kept either way."""
    try:
        # Methods see the session through SessionHost; subscriptions need all of it, and
        # Session is the only SessionHost there is.
        whole = cast("WholeSession", session)
        set_subscription(subscription_id, session=whole, interactive=False)
    except NbauthError as exc:
        warnings.warn(
            f"Signed in with the {auth.where}, but its subscription {auth.subscription_id} "
            f"could not be selected: {redact(exc).splitlines()[0]} Run `%azsubscription` to "
            f"pick one.",
            UserWarning,
            stacklevel=3,
        )


DECLARATION = Method(
    METHOD,
    start,
    unavailable,
    aliases=("sdk_auth",),
    options=("auth_file",),
    flags=(Flag("auth_file", "--auth-file", "auth_file"),),
    azure_identity=True,
)
"""What nbauth knows about this method (see `nbauth._methods._method`)."""
