"""azure-core's token values whose repr never prints the token, for the worker credentials.

Imported on the first token a worker installs, not before: unpickling a worker credential stays
free of azure-core until a token is needed.
"""

from __future__ import annotations

import math

from azure.core.credentials import AccessToken, AccessTokenInfo

__all__ = ["RedactedAccessToken", "RedactedAccessTokenInfo", "token_values"]


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
    """Both shapes azure-core asks for, built once per token and then shared by every call."""
    info = RedactedAccessTokenInfo(
        token,
        int(expires_on),
        token_type="Bearer",
        # Rounded up: at the second a caller is told, the refresh is due, not a moment later.
        refresh_on=min(math.ceil(refresh_on), int(expires_on)),
    )
    return RedactedAccessToken(token, int(expires_on)), info
