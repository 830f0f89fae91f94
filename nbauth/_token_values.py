"""azure-core's token values whose repr never prints the token, and what a worker tells azure-core.

Imported on the first token a worker installs, not before: unpickling a worker credential stays
free of azure-core until a token is needed.
"""

from __future__ import annotations

import math

from azure.core.credentials import AccessToken, AccessTokenInfo

__all__ = ["HANDOVER_MAX_S", "RedactedAccessToken", "RedactedAccessTokenInfo", "token_values"]

HANDOVER_MAX_S = 30.0
"""A worker tells azure-core that its token expires this much early at most (half the time
between the token's refresh and its expiry if less): see `token_values`."""


class RedactedAccessToken(AccessToken):
    __slots__ = ()

    def __repr__(self) -> str:
        return f"AccessToken(token='[redacted]', expires_on={self.expires_on})"


class RedactedAccessTokenInfo(AccessTokenInfo):
    def __repr__(self) -> str:
        return (
            f"AccessTokenInfo(token='[redacted]', expires_on={self.expires_on}, "
            f"token_type='{self.token_type}', refresh_on={self.refresh_on})"
        )


def token_values(
    token: str, expires_on: float, refresh_on: float
) -> tuple[AccessToken, AccessTokenInfo]:
    """Both shapes azure-core asks for, built once per token and then shared by every call.

    They carry an expiry before the token's own, halfway between its refresh and its expiry (at
    most `HANDOVER_MAX_S` before it). azure-core's bearer policy keeps a token until
    ``min(refresh_on + up to 60 s of jitter, expires_on)``: for a token refreshed less than a
    minute before its expiry, that is its expiry, and a request sent a moment before it reaches
    the service after it. A worker
    cannot refresh anything itself; by the told expiry the kernel's refresh, pushed at
    ``refresh_on``, has long arrived, and the old token still has the other half of that time
    for requests in flight (and for a server that rounds its clock).
    """
    lead = max(0.0, expires_on - refresh_on)
    told = int(expires_on - min(HANDOVER_MAX_S, lead / 2))
    info = RedactedAccessTokenInfo(
        token,
        told,
        token_type="Bearer",
        # Rounded up: at the second a caller is told, the refresh is due, not a moment later.
        refresh_on=min(math.ceil(refresh_on), told),
    )
    return RedactedAccessToken(token, told), info
