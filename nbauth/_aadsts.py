"""Plain-language meaning of Entra ID's AADSTS error codes, and what to do next.

Entra's own descriptions are written for app developers ("AADSTS50020: User account ... from
identity provider ... does not exist in tenant ..."). A person in a notebook needs one line that
says what happened and one that says what to try. The table holds the codes people actually
meet when signing in from a notebook; anything else falls back to a link to Microsoft's error
lookup page, which explains every code.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Explanation", "explain", "lookup_url"]


class Explanation(NamedTuple):
    summary: str
    """What happened, in one plain sentence."""
    guidance: str
    """What to do next."""


_SIGN_IN_AGAIN = "Run `%azlogin` (or `nbauth.login()`) in a cell to sign in again."
_NEW_CODE = (
    "A browser sign-in that waits for a pasted address still does: open its sign-in page "
    "again, sign in, and paste the new address. Otherwise run `%azlogin` again."
)

_TABLE: dict[int, Explanation] = {
    # --- device code flow -------------------------------------------------------------
    70016: Explanation(
        "The sign-in is still waiting for you to enter the code.",
        "Open the sign-in page, enter the code and finish signing in.",
    ),
    70020: Explanation(
        "The sign-in code expired before it was used.",
        "Run `%azlogin` again and enter the new code within 15 minutes.",
    ),
    70019: Explanation(
        "The sign-in code expired before it was used.",
        "Run `%azlogin` again and enter the new code within 15 minutes.",
    ),
    70000: Explanation(
        "The sign-in was declined, or the grant is no longer valid.",
        "If you declined by mistake, run `%azlogin` again and approve the sign-in.",
    ),
    # --- browser sign-in: the pasted (or caught) authorization code ---------------------
    70008: Explanation(
        "The sign-in's authorization code expired before it was redeemed (codes last 10 "
        "minutes), or the sign-in was unused for too long.",
        _NEW_CODE,
    ),
    54005: Explanation(
        "This sign-in answer was already used: an authorization code works once.",
        _NEW_CODE,
    ),
    # --- which account / which tenant -------------------------------------------------
    50020: Explanation(
        "This account is not a member or guest of the tenant you asked for.",
        "Sign in with an account that belongs to that tenant, pick another tenant, or ask "
        "the tenant's admin to invite you as a guest.",
    ),
    50034: Explanation(
        "This user account does not exist in the directory.",
        "Check the username for typos, or sign in to the tenant the account belongs to "
        "(pass tenant=...).",
    ),
    90002: Explanation(
        "The tenant was not found.",
        "Check the tenant ID or domain (a GUID, or a verified domain such as "
        "contoso.onmicrosoft.com), and that you use the right cloud (authority host).",
    ),
    50194: Explanation(
        "This application is single-tenant and cannot use the 'organizations' or 'common' "
        "endpoint.",
        "Pass tenant=<your tenant ID or domain> when signing in.",
    ),
    # --- credentials and MFA ----------------------------------------------------------
    50126: Explanation(
        "The username or password is wrong.",
        "Check both and try again. Accounts with multi-factor authentication cannot use a "
        "password sign-in: use `%azlogin` (device code) instead.",
    ),
    50076: Explanation(
        "Multi-factor authentication is required for this sign-in.",
        "Sign in interactively with `%azlogin` (device code), which lets you complete MFA.",
    ),
    50079: Explanation(
        "This account must register for multi-factor authentication first.",
        "Register at https://aka.ms/mfasetup, then run `%azlogin` again.",
    ),
    50055: Explanation(
        "The account's password has expired.",
        "Change the password (https://aka.ms/sspr), then sign in again.",
    ),
    50057: Explanation(
        "The account is disabled.",
        "Ask your administrator to enable it, or sign in with another account.",
    ),
    50053: Explanation(
        "The account is locked after too many failed sign-ins, or the sign-in was blocked.",
        "Wait a few minutes and try again, or ask your administrator to unlock it.",
    ),
    53003: Explanation(
        "A Conditional Access policy blocked this sign-in.",
        "Try again from a compliant device or network, or ask your administrator which "
        "policy applies (give them the correlation ID below).",
    ),
    # --- refresh tokens ---------------------------------------------------------------
    50173: Explanation(
        "Your sign-in is no longer valid: it was revoked (for example after a password "
        "change or by an administrator).",
        _SIGN_IN_AGAIN,
    ),
    700082: Explanation(
        "Your sign-in expired because it was not used for a long time.",
        _SIGN_IN_AGAIN,
    ),
    70043: Explanation(
        "Your sign-in expired because of a sign-in frequency policy.",
        _SIGN_IN_AGAIN,
    ),
    50078: Explanation(
        "Your multi-factor authentication has expired.",
        _SIGN_IN_AGAIN,
    ),
    # --- application / client id ------------------------------------------------------
    700016: Explanation(
        "The application (client ID) was not found in this tenant.",
        "Check client_id, and that the app is registered in, or consented to by, this tenant. "
        "Leave client_id unset to use the Azure CLI's public client.",
    ),
    65001: Explanation(
        "The application has not been granted consent to access this resource.",
        "Ask a tenant administrator to grant consent, or use the default client ID.",
    ),
    70011: Explanation(
        "The requested scope is not valid.",
        "Use the '<resource>/.default' form, for example 'https://management.azure.com/.default'.",
    ),
    500011: Explanation(
        "The resource you asked a token for does not exist in this tenant.",
        "Check the scope's resource URL, and that the service is available in this tenant.",
    ),
    7000215: Explanation(
        "The client secret is not valid.",
        "Use the secret's value (not its ID), and check that it has not expired.",
    ),
    7000218: Explanation(
        "This client ID belongs to a confidential application that needs a secret or certificate.",
        "Provide the client secret or certificate, or leave client_id unset to sign in as a "
        "user with the Azure CLI's public client.",
    ),
    700027: Explanation(
        "The client assertion (certificate) was not accepted.",
        "Check that the certificate registered for the application matches the one you use.",
    ),
    900144: Explanation(
        "The request to Entra ID was missing a required parameter.",
        "This is likely a bug; please report it with the correlation ID below.",
    ),
}


def lookup_url(code: int) -> str:
    """Microsoft's page that explains any AADSTS code."""
    return f"https://login.microsoftonline.com/error?code={int(code)}"


def explain(code: int | None, error: str | None = None) -> Explanation:
    """Plain-language meaning of an AADSTS code (or of a bare OAuth error if there is none)."""
    if code is not None and code in _TABLE:
        return _TABLE[code]
    if error in ("invalid_grant", "interaction_required"):
        return Explanation("Entra ID needs you to sign in again.", _SIGN_IN_AGAIN)
    if error == "temporarily_unavailable":
        return Explanation("Entra ID is temporarily unavailable.", "Wait a moment and try again.")
    if code is not None:
        return Explanation(
            "Entra ID refused the request.",
            f"See {lookup_url(code)} for what this code means.",
        )
    return Explanation("Entra ID refused the request.", "Check the details below and try again.")
