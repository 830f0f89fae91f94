"""The `Account` of a principal signed in by a token alone (no msal account behind it).

Service principals, managed identities and the developer tools' sign-ins are named from their
first token's claims (`nbauth._jwt`, unverified: only to name the principal and key the session).
"""

from __future__ import annotations

from .._jwt import jwt_claims
from .._signin import Account

__all__ = ["principal_account", "short_id"]


def short_id(value: str) -> str:
    """``5e7a1b2c…``: enough of a GUID to tell principals apart in a badge."""
    return f"{value[:8]}…" if len(value) > 8 else value


def principal_account(
    token: str,
    *,
    method: str,
    authority_host: str,
    tenant: str,
    client_id: str | None,
    app_name: str | None = None,
) -> Account:
    """The `Account` a token was issued to, for display and as the session's key.

    A user (the developer tools' sign-in) keeps their username; an application is named
    `app_name`, default ``"service principal <client id>…"``. The ID is the token's object ID
    and tenant, so the same principal signed in twice is one account. The authority is
    ``authority_host`` with the token's tenant (else `tenant`).
    """
    claims = jwt_claims(token)
    tid = str(claims.get("tid") or "") or None
    oid = str(claims.get("oid") or "") or None
    user = claims.get("upn") or claims.get("unique_name") or claims.get("preferred_username")
    is_app = claims.get("idtyp") == "app" or (not user and not claims.get("scp"))
    appid = str(claims.get("appid") or claims.get("azp") or client_id or "") or None
    if is_app:
        username = app_name or (f"service principal {short_id(appid)}" if appid else "application")
        name = None
        home_tid = tid
    else:
        username = str(user or claims.get("email") or "unknown user")
        name = claims.get("name")
        # A guest's token names its home tenant's issuer in `idp`.
        idp = claims.get("idp")
        home_tid = idp.rstrip("/").rsplit("/", 1)[-1] if isinstance(idp, str) and idp else tid
    return Account(
        username=username,
        home_account_id=f"{oid}.{tid}" if oid and tid else f"{method}:{appid or username}",
        tenant_id=tid,
        home_tenant_id=home_tid,
        name=str(name) if name else None,
        method=method,
        authority=f"{authority_host}/{tid or tenant}",
        client_id=appid,
    )
