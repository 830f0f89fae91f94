"""The claims of a JWT and msal's ``client_info``, read without verifying anything.

A client cannot verify an access token (only its audience can), and needs no verification for
what nbauth reads from one: the tenant a token is for, and who it names, to show and to check
against what was asked. Both are base64url-encoded JSON objects; anything else reads as empty.
Standard library only.
"""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["client_info", "jwt_claims"]


def _base64url_json(text: str) -> dict[str, Any]:
    """The JSON object in base64url `text` (padding optional), or {}."""
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError, RecursionError):  # RecursionError: absurdly nested
        return {}
    return data if isinstance(data, dict) else {}


def jwt_claims(token: object) -> dict[str, Any]:
    """The payload of a JWT (``header.payload.signature``), unverified; {} for anything else
    (an opaque token, an encrypted one, not a string)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return {}
    return _base64url_json(token.split(".")[1])


def client_info(value: object) -> dict[str, Any]:
    """msal's ``client_info`` (``{"uid": ..., "utid": ...}``) from a token answer, or {}."""
    return _base64url_json(value) if isinstance(value, str) and value else {}
