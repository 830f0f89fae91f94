"""The kernel credential for old, msrest-based Azure clients.

Management clients generated before 2020 (``azure-mgmt-*`` on msrest/msrestazure) do not take an
azure-core ``TokenCredential``: they call ``credentials.signed_session(session)`` before each
request and some read ``credentials.token["access_token"]``. The Azure docs bridge the two with
a ``CredentialWrapper``; this is that adapter over nbauth's credential::

    from nbauth.legacy import CredentialWrapper
    from azure.mgmt.resource import SubscriptionClient   # an msrest-era version

    client = SubscriptionClient(CredentialWrapper())

Each request asks the credential for a token, so it is always fresh (nbauth's token store makes
that an in-memory lookup) and follows the kernel's current sign-in. The adapter keeps no token
of its own: its repr shows the scope only, and pickling it pickles its credential (which, for the
kernel credential, refuses). It needs neither msrest nor azure-identity to be imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests
    from azure.core.credentials import (
        AccessToken,
        AccessTokenInfo,
        TokenCredential,
        TokenRequestOptions,
    )

    from ._credential import TokenInfoCredential

__all__ = ["CredentialWrapper"]


class CredentialWrapper:
    """An msrest ``Authentication`` over an azure-core credential (default: the kernel's).

    ``credential``: any ``TokenCredential`` (default `nbauth.credential()`, looked up on each
    request). ``resource_id``: a scope (``https://management.azure.com/.default``) or a resource
    URL (``https://management.azure.com/``); default: Resource Manager of the kernel's cloud.
    ``tenant_id``: ask for tokens in that tenant.

    The same object also works with current SDK clients (``get_token``/``get_token_info``).
    """

    scheme = "Bearer"
    header = "Authorization"

    def __init__(
        self,
        credential: TokenInfoCredential | TokenCredential | None = None,
        resource_id: str | None = None,
        *,
        tenant_id: str | None = None,
    ) -> None:
        self._credential = credential
        self._scope = _as_scope(resource_id) if resource_id else None
        self._tenant_id = tenant_id

    # -- what msrest calls -----------------------------------------------------------------

    def signed_session(self, session: requests.Session | None = None) -> requests.Session:
        """``session`` (or a new one) with an ``Authorization: Bearer`` header for the scope."""
        if session is None:
            import requests  # Lazy load

            session = requests.Session()
        session.headers[self.header] = f"{self.scheme} {self._access_token().token}"
        return session

    def refresh_session(self, session: requests.Session | None = None) -> requests.Session:
        """msrest calls this after a 401 it reads as an expired token: sign the session again
        (the credential decides whether a new token is needed)."""
        return self.signed_session(session)

    def set_token(self) -> None:
        """msrestazure's hook to (re)acquire ``token``; getting a token proves it works."""
        self._access_token()

    @property
    def token(self) -> dict[str, Any]:
        """``{"access_token", "token_type", "expires_on"}`` as msrestazure credentials hold it;
        fetched on each read (never stored on this object)."""
        token = self._access_token()
        return {
            "access_token": token.token,
            "token_type": self.scheme,
            "expires_on": token.expires_on,
        }

    # -- what current clients call ---------------------------------------------------------

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self._resolved_credential().get_token(*(scopes or (self.scope,)), **kwargs)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        credential = self._resolved_credential()
        wanted = scopes or (self.scope,)
        ask_info = getattr(credential, "get_token_info", None)
        if ask_info is not None:
            info: AccessTokenInfo = ask_info(*wanted, options=options)
            return info
        # A credential with get_token only (older azure-identity, hand-written ones): azure-core
        # calls get_token_info on this wrapper whenever it exists, so answer it from get_token.
        from ._token_values import RedactedAccessTokenInfo  # Lazy load: azure-core

        asked: dict[str, Any] = dict(options or {})  # claims, tenant_id, enable_cae, if set
        token = credential.get_token(*wanted, **asked)
        return RedactedAccessTokenInfo(token.token, token.expires_on)

    # -- internals -------------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """The scope tokens are asked for."""
        if self._scope is not None:
            return self._scope
        from ._kernel import session

        return session().cloud.arm_scope

    def _resolved_credential(self) -> TokenInfoCredential | TokenCredential:
        if self._credential is not None:
            return self._credential
        from ._api import credential

        return credential()

    def _access_token(self) -> AccessToken:
        kwargs: dict[str, Any] = {"tenant_id": self._tenant_id} if self._tenant_id else {}
        return self._resolved_credential().get_token(self.scope, **kwargs)

    def __repr__(self) -> str:
        tenant = f" tenant={self._tenant_id}" if self._tenant_id else ""
        return f"<nbauth.legacy.CredentialWrapper {self.scope}{tenant}>"


def _as_scope(resource_id: str) -> str:
    """A resource URL becomes its ``.default`` scope, as the Azure CLI spells it."""
    text = resource_id.strip()
    if text.endswith("/.default"):
        return text
    return text + "/.default"
