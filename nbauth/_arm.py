"""A small Azure Resource Manager client: just what listing tenants and subscriptions needs.

Built on azure-core's ``PipelineClient`` with ``BearerTokenCredentialPolicy`` and the kernel's
credential, so tokens come from the session like they do for any Azure SDK client, and nbauth
needs no azure-mgmt package. The endpoint and token scope come from the session's cloud
(``nbauth._clouds``; ``$NBAUTH_ARM_ENDPOINT`` for an emulator).

ARM answers in one tenant at a time: ``GET /subscriptions`` lists the subscriptions of the
token's tenant. A client is therefore bound to one tenant (`ResourceManagerClient(tenant_id=...)`)
and asks the credential for a token of that tenant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ._errors import NbauthError, redact
from ._flight import launch
from ._http import network_failure
from ._version import __version__

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
    from azure.core.rest import HttpRequest, HttpResponse

    from ._credential import TokenInfoCredential
    from ._session import Session

__all__ = ["API_VERSION", "ResourceManagerClient", "ResourceManagerError", "TenantCredential"]

API_VERSION = "2022-12-01"
"""Resource Manager's ``Microsoft.Resources`` API version for /tenants and /subscriptions."""

# Listing subscriptions is interactive work: fail in seconds, not minutes.
_CONNECT_TIMEOUT_S = 10
_READ_TIMEOUT_S = 30
# A runaway nextLink chain (a server bug) must not loop forever.
_MAX_PAGES = 1000

# ARM error code -> what to do next.
_GUIDANCE = {
    "AuthenticationFailed": "Run `%azlogin` (or `nbauth.login()`) to sign in again.",
    "InvalidAuthenticationToken": "Run `%azlogin` (or `nbauth.login()`) to sign in again.",
    "ExpiredAuthenticationToken": "Run `%azlogin` (or `nbauth.login()`) to sign in again.",
    "InvalidAuthenticationTokenAudience": (
        "The token was issued for another cloud or resource: check `--cloud` / "
        "$AZURE_AUTHORITY_HOST and $NBAUTH_ARM_ENDPOINT match the same cloud."
    ),
    "InvalidAuthenticationTokenTenant": (
        "The subscription belongs to another tenant: pick it with `%azsubscription --tenant "
        "<tenant>` so nbauth asks that tenant for a token."
    ),
    "AuthorizationFailed": (
        "The signed-in account has no role that allows this. Ask an owner of the subscription "
        "for access (for example the Reader role), or switch accounts with `%azaccount`."
    ),
    "SubscriptionNotFound": (
        "Check the subscription ID, and run `%azsubscription --list` to see the subscriptions "
        "this account can use."
    ),
}
_STATUS_GUIDANCE = {
    401: "Run `%azlogin` (or `nbauth.login()`) to sign in again.",
    403: "The signed-in account is not allowed to do this; ask an owner for access.",
    404: "Check the endpoint ($NBAUTH_ARM_ENDPOINT) and the ID you asked for.",
    429: "Resource Manager is throttling requests; wait a minute and try again.",
}


class ResourceManagerError(NbauthError):
    """Azure Resource Manager refused a request, or could not be reached.

    Attributes: ``status_code`` (None when no response came), ``code`` (ARM's error code, e.g.
    ``AuthorizationFailed``), ``description`` (ARM's text, redacted), ``guidance`` (what to do
    next), ``request_id`` (ARM's ``x-ms-request-id``, for support).
    """

    def __init__(
        self,
        summary: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        description: str = "",
        guidance: str = "",
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.description = redact(description)
        self.guidance = guidance
        self.request_id = request_id
        first = f"{summary} {guidance}".strip()
        details = []
        if code or self.description:
            details.append(f"{code or 'Error'}: {self.description}".strip().rstrip(":"))
        if request_id:
            details.append(f"(request id {request_id})")
        super().__init__(first + ("\n" + " ".join(details) if details else ""))

    def __repr__(self) -> str:
        return f"ResourceManagerError(status_code={self.status_code!r}, code={self.code!r})"


class TenantCredential:
    """A credential that asks `credential` for tokens of one tenant.

    azure-core's bearer policy never passes ``tenant_id``, and it caches the token it got, so
    one pipeline serves one tenant; this adapter makes that tenant explicit.
    """

    def __init__(self, credential: TokenInfoCredential, tenant_id: str | None) -> None:
        self._credential = credential
        self.tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.tenant_id:
            kwargs["tenant_id"] = self.tenant_id
        return self._credential.get_token(*scopes, **kwargs)

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        asked: TokenRequestOptions = {**options} if options else {}
        if self.tenant_id:
            asked["tenant_id"] = self.tenant_id
        return self._credential.get_token_info(*scopes, options=asked)

    def __repr__(self) -> str:
        return f"<TenantCredential tenant_id={self.tenant_id!r}>"


class ResourceManagerClient:
    """GET requests to Azure Resource Manager with the session's credential, for one tenant.

    In [1]: with ResourceManagerClient(nbauth.session()) as arm:
       ...:     arm.list("/subscriptions")

    ``tenant_id``: ask for tokens of this tenant (default: the account's sign-in tenant).
    ``credential``: default the session's `NotebookCredential`. ``endpoint`` / ``scope``:
    default the session's cloud. ``retry_total``: retries of transient failures (azure-core's
    ``RetryPolicy``).
    """

    def __init__(
        self,
        session: Session,
        *,
        tenant_id: str | None = None,
        credential: TokenInfoCredential | None = None,
        endpoint: str | None = None,
        scope: str | None = None,
        retry_total: int = 2,
    ) -> None:
        from azure.core import PipelineClient  # Lazy load
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            HeadersPolicy,
            RequestIdPolicy,
            RetryPolicy,
            UserAgentPolicy,
        )
        from azure.core.pipeline.transport import RequestsTransport

        cloud = session.cloud
        self.endpoint = (endpoint or cloud.arm_endpoint).rstrip("/") + "/"
        self.scope = scope or cloud.arm_scope
        self.tenant_id = tenant_id
        self._credential = TenantCredential(credential or session.credential(), tenant_id)
        policies = [
            RequestIdPolicy(),
            HeadersPolicy({"Accept": "application/json"}),
            UserAgentPolicy(sdk_moniker=f"nbauth/{__version__}"),
            # A read timeout is not retried: one bound (_READ_TIMEOUT_S) per request, not three.
            RetryPolicy(retry_total=retry_total, retry_read=0, retry_backoff_factor=0.5),
            BearerTokenCredentialPolicy(self._credential, self.scope),
        ]
        # The session's HTTP client (the one msal uses): one connection pool per kernel, so
        # only the first ARM call pays for a TLS handshake, and $NBAUTH_CA_BUNDLE applies here
        # as it does to sign-ins (nbauth._http).
        transport = RequestsTransport(
            session=session.http_client(),
            session_owner=False,
            connection_timeout=_CONNECT_TIMEOUT_S,
            read_timeout=_READ_TIMEOUT_S,
        )
        self._client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(
            base_url=self.endpoint, policies=policies, transport=transport
        )

    def __enter__(self) -> ResourceManagerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"<ResourceManagerClient {self.endpoint} tenant_id={self.tenant_id!r}>"

    # -- requests ------------------------------------------------------------------------------

    def get(self, path: str, *, api_version: str = API_VERSION) -> dict[str, Any]:
        """One GET of `path` (relative to the endpoint); the JSON body."""
        return self._get_url(self._url(path, api_version))

    def list(self, path: str, *, api_version: str = API_VERSION) -> list[dict[str, Any]]:
        """Every item of a list operation, following ``nextLink`` pages."""
        return list(self.iter(path, api_version=api_version))

    def iter(self, path: str, *, api_version: str = API_VERSION) -> Iterator[dict[str, Any]]:
        url: str | None = self._url(path, api_version)
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            page = self._get_url(url)
            value = page.get("value")
            if not isinstance(value, list):
                raise ResourceManagerError(
                    f"Resource Manager answered {path} without a list of items. Check that "
                    f"{self.endpoint} is an Azure Resource Manager endpoint."
                )
            yield from (item for item in value if isinstance(item, dict))
            url = self._next_link(page.get("nextLink"))
        raise ResourceManagerError(
            f"Resource Manager kept sending more pages of {path} after {_MAX_PAGES}; stopped."
        )

    def _url(self, path: str, api_version: str) -> str:
        from urllib.parse import urlencode

        return (
            f"{urljoin(self.endpoint, path.lstrip('/'))}?{urlencode({'api-version': api_version})}"
        )

    def _next_link(self, link: object) -> str | None:
        if not link:
            return None
        text = str(link)
        ours, theirs = urlsplit(self.endpoint), urlsplit(text)
        # The bearer policy would send our token wherever nextLink points.
        if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
            raise ResourceManagerError(
                f"Resource Manager sent a next-page link to another host ({theirs.netloc}); "
                f"nbauth does not send your token there. Check $NBAUTH_ARM_ENDPOINT."
            )
        return text

    def _get_url(self, url: str) -> dict[str, Any]:
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", url)
        try:
            # In a thread of its own: the transport's frames hold the Authorization header,
            # which a stop-button traceback would print (see nbauth._flight).
            response = launch(lambda: self._client.send_request(request), name="nbauth-arm").wait()
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise ResourceManagerError(
                f"{network_failure(f'Azure Resource Manager at {self.endpoint}', exc)}.",
                guidance="Check the network connection (and $NBAUTH_ARM_ENDPOINT), then try again.",
            ) from None
        request_id = response.headers.get("x-ms-request-id")
        if response.status_code >= 400:
            raise _error_from_response(response.status_code, response.text(), request_id)
        try:
            body = json.loads(response.text())
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise ResourceManagerError(
                f"Resource Manager at {self.endpoint} answered with something that is not JSON.",
                guidance="Check that $NBAUTH_ARM_ENDPOINT points at Azure Resource Manager.",
                status_code=response.status_code,
                request_id=request_id,
            )
        return body


def _error_from_response(status: int, text: str, request_id: str | None) -> ResourceManagerError:
    code: str | None = None
    message = ""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "") or None
        message = str(error.get("message") or "")
    elif text:
        message = text[:300]
    guidance = (
        _GUIDANCE.get(code or "")
        or _STATUS_GUIDANCE.get(status)
        or ("Resource Manager had a problem; try again in a moment." if status >= 500 else "")
    )
    return ResourceManagerError(
        f"Azure Resource Manager refused the request (HTTP {status}).",
        status_code=status,
        code=code,
        description=message,
        guidance=guidance,
        request_id=request_id,
    )
