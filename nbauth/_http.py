"""The HTTP session nbauth hands to msal.

One `requests.Session` per nbauth Session, shared by all its msal applications so connections
to the authority are reused. Two things msal's default session does not do:

- a timeout on every request, so a silent network stalls a cell for seconds, not forever;
- ``$NBAUTH_CA_BUNDLE``: a CA bundle for nbauth alone. requests lets ``$REQUESTS_CA_BUNDLE``
  override a session's ``verify`` attribute, so the bundle is passed on each request instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "build_http_client"]

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0


def build_http_client() -> requests.Session:
    """A requests session with nbauth's timeout and CA bundle; see the module docstring."""
    import requests  # Lazy load: ~100 ms, paid on the first sign-in only.
    from requests.adapters import HTTPAdapter

    class _NbauthHttpSession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", (CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
            bundle = os.environ.get("NBAUTH_CA_BUNDLE")
            if bundle and kwargs.get("verify") in (None, True):
                kwargs["verify"] = bundle
            return super().request(method, url, **kwargs)

    session = _NbauthHttpSession()
    # Same as msal's own default: one retry on connection errors is better than none.
    adapter = HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
