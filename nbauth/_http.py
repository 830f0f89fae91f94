"""The HTTP session nbauth hands to msal.

One `requests.Session` per nbauth Session, shared by all its msal applications so connections
to the authority are reused. Two things msal's default session does not do:

- a timeout on every request, so a silent network stalls a cell for seconds, not forever;
- ``$NBAUTH_CA_BUNDLE``: a CA bundle for nbauth alone. requests lets ``$REQUESTS_CA_BUNDLE``
  override a session's ``verify`` attribute, so the bundle is passed on each request instead.
- `keep_authority_port`: msal builds its user-realm discovery URL (username/password sign-in)
  from the authority's host name alone, ``https://<host>/common/userrealm/...``, which drops a
  non-default port (an emulator, a private cloud on ``:8443``). Authorities registered here get
  their port back on such URLs; nothing else is rewritten.
- a cap on the size of an answer (`MAX_RESPONSE_BYTES`): identity answers are a few KB, and
  msal reads a whole body into memory (several copies) and logs non-JSON ones whole, so a
  broken or hostile endpoint sending megabytes must fail fast with `ResponseTooLarge`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import requests

__all__ = [
    "CONNECT_TIMEOUT_S",
    "MAX_RESPONSE_BYTES",
    "READ_TIMEOUT_S",
    "ResponseTooLarge",
    "build_http_client",
    "keep_authority_port",
]

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
MAX_RESPONSE_BYTES = 1 << 20


class ResponseTooLarge(ValueError):
    """An answer bigger than `MAX_RESPONSE_BYTES`. A ValueError, as msal's other unreadable
    answers are, so every caller already turns it into an error that says what happened."""


def build_http_client() -> requests.Session:
    """A requests session with nbauth's timeout and CA bundle; see the module docstring."""
    import requests  # Lazy load: ~100 ms, paid on the first sign-in only.
    from requests.adapters import HTTPAdapter

    class _NbauthHttpSession(requests.Session):
        # host name -> "host:port" of authorities with a non-default port (keep_authority_port)
        authority_ports: dict[str, str]

        def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> Any:
            if isinstance(url, str) and self.authority_ports:
                url = _with_authority_port(url, self.authority_ports)
            kwargs.setdefault("timeout", (CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
            bundle = os.environ.get("NBAUTH_CA_BUNDLE")
            if bundle and kwargs.get("verify") in (None, True):
                kwargs["verify"] = bundle
            if kwargs.pop("stream", False):
                return super().request(method, url, stream=True, **kwargs)
            response = super().request(method, url, stream=True, **kwargs)
            _read_capped(response)
            return response

    session = _NbauthHttpSession()
    session.authority_ports = {}
    # Same as msal's own default: one retry on connection errors is better than none.
    adapter = HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _read_capped(response: Any) -> None:
    """Read `response`'s body as requests would, but no more than `MAX_RESPONSE_BYTES`."""
    host = urlsplit(response.url).netloc or "the server"
    too_large = ResponseTooLarge(
        f"the answer from {host} is larger than {MAX_RESPONSE_BYTES // 1024} KiB, far more "
        f"than any sign-in answer"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        response.close()
        raise too_large
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            response.close()
            raise too_large
    # What requests itself does when it reads a body that was not streamed.
    response._content = bytes(body)


def keep_authority_port(client: requests.Session, authority_host: str) -> None:
    """Make `client` (from `build_http_client`) keep ``authority_host``'s port on the
    port-less URLs msal builds for it; see the module docstring. No-op without a port."""
    parts = urlsplit(authority_host)
    ports = getattr(client, "authority_ports", None)
    if ports is None or not parts.hostname or parts.port in (None, 443):
        return
    ports[parts.hostname.lower()] = f"{parts.hostname.lower()}:{parts.port}"


def _with_authority_port(url: str, ports: dict[str, str]) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port is not None or not parts.hostname:
        return url
    netloc = ports.get(parts.hostname.lower())
    if netloc is None or not parts.path.startswith("/common/userrealm/"):
        return url
    return urlunsplit(parts._replace(netloc=netloc))
