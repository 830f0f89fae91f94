"""What nbauth checks in a token answer before anything keeps it or hands it out.

A broken or hostile server can send a token with a lifetime that makes no sense, or a token of
another tenant. Every token answer passes here: msal's in `nbauth._http` (before msal caches
it), azure-identity's in `IdentitySource`, and each stored token in `TokenStore`.

- ``expires_in`` (``expires_on`` for managed identity) must be a number of seconds, finite, and
  at least `MIN_TOKEN_LIFETIME_S`: msal and azure-identity round it down to whole seconds, so
  below that the token had expired when it arrived. Above `MAX_TOKEN_LIFETIME_S` it is clamped:
  Entra ID's longest lifetime is about 28 h (a CAE token).
- ``refresh_in`` and ``ext_expires_in`` are hints: dropped, with a warning, when they make no
  sense (not a number, negative, a refresh after expiry). The default refresh time serves.
- A token's ``tid`` must be the tenant that was asked for, when a tenant ID was asked for; for
  ``organizations`` / ``common``, the account's home tenant (which Entra ID signs in to there;
  not for personal Microsoft accounts, which have none). Tenants named by a domain are not
  checked: only the server knows their IDs.

Messages name the field and its value, never a token. Nothing here imports more than the
standard library.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._base_errors import redact
from ._jwt import client_info, jwt_claims

__all__ = [
    "MAX_TOKEN_LIFETIME_S",
    "MIN_TOKEN_LIFETIME_S",
    "UnusableTokenAnswer",
    "check_token_answer",
    "clamped_lifetime",
    "expected_tenant",
    "home_tenant",
    "lifetime_problem",
    "refresh_problem",
    "seconds",
    "shown",
    "token_tenant",
    "wrong_tenant",
]

MAX_TOKEN_LIFETIME_S = 28 * 3600
MIN_TOKEN_LIFETIME_S = 1.0
# What msal assumes when an answer states no lifetime at all.
_UNSTATED_LIFETIME_S = 600.0

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Authorities where Entra ID picks the tenant: the account's home tenant.
_HOME_TENANT_ALIASES = frozenset({"organizations", "common"})
# The home tenant of every personal Microsoft account: there Entra ID issues tokens of the
# directory the person is a guest in, so it tells nothing about the token's tenant.
_MSA_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


class UnusableTokenAnswer(ValueError):
    """A token answer nbauth refuses. A ValueError, as msal's other unreadable answers are, so
    every caller of msal already turns it into an error that says what happened."""


def seconds(value: object) -> float | None:
    """`value` as a finite number of seconds, or None. Numbers, and numbers in a string (as
    v1 endpoints and managed identity send them); never booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value or len(value) > 32:
            return None
    elif not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def shown(value: object) -> str:
    """`value` as a message may show it: short, redacted, never a long string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 24 else f"{text[:12]}…"
    if isinstance(value, str) and len(value) <= 24:
        return repr(redact(value))
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    return f"a JSON {type(value).__name__}"


def clamped_lifetime(expires_in: float) -> float:
    """`expires_in` capped at `MAX_TOKEN_LIFETIME_S`; NaN counts as expired (0)."""
    if expires_in != expires_in:  # NaN
        return 0.0
    return max(0.0, min(float(expires_in), float(MAX_TOKEN_LIFETIME_S)))


def lifetime_problem(name: str, value: object, expires_in: float | None) -> str | None:
    """Why `expires_in` (the lifetime read from field `name`, whose raw value is `value`) makes
    the token unusable, or None."""
    if expires_in is None:
        return f"{name}={shown(value)}, which is not a number of seconds"
    if expires_in < MIN_TOKEN_LIFETIME_S:
        return f"{name}={shown(value)}: the token had expired before it arrived"
    return None


def refresh_problem(value: object, expires_in: float) -> str | None:
    """Why ``refresh_in`` = `value` is to be ignored for a token living `expires_in` s, or None."""
    refresh_in = seconds(value)
    if refresh_in is None:
        return f"refresh_in={shown(value)} is not a number of seconds"
    if refresh_in <= 0:
        return f"refresh_in={shown(value)} asks for a refresh before the token was used"
    if refresh_in >= expires_in:
        return f"refresh_in={shown(value)} is after the token expires (expires_in={expires_in:g})"
    return None


def check_token_answer(
    body: dict[str, Any], tenant: str | None, now: float
) -> tuple[dict[str, Any], list[str]]:
    """The token answer `body` to keep, and the warnings about what was changed in it.

    Raises `UnusableTokenAnswer` when the token cannot be used. ``tenant``: the tenant segment
    of the token endpoint's URL, if any. The answer kept has ``expires_in`` clamped and
    nonsense hints removed, so msal caches what nbauth would use.
    """
    kept = dict(body)
    warnings: list[str] = []
    expires_in = _answer_lifetime(kept, now, warnings)
    if "ext_expires_in" in kept:
        ext = kept["ext_expires_in"]
        ext_s = seconds(ext)
        if ext_s is None or ext_s < MIN_TOKEN_LIFETIME_S:
            del kept["ext_expires_in"]
            warnings.append(f"ignored ext_expires_in={shown(ext)}, not a usable lifetime")
        elif ext_s > MAX_TOKEN_LIFETIME_S:
            kept["ext_expires_in"] = MAX_TOKEN_LIFETIME_S
            warnings.append(f"treated ext_expires_in={shown(ext)} as {MAX_TOKEN_LIFETIME_S} s")
    if "refresh_in" in kept:
        lifetime = expires_in if expires_in is not None else _UNSTATED_LIFETIME_S
        why = refresh_problem(kept["refresh_in"], lifetime)
        if why is not None:
            del kept["refresh_in"]
            warnings.append(f"ignored {why}")
    problem = wrong_tenant(
        kept.get("access_token"), expected_tenant(tenant, _client_info_tenant(kept))
    )
    if problem is not None:
        raise UnusableTokenAnswer(problem)
    return kept, warnings


def _answer_lifetime(kept: dict[str, Any], now: float, warnings: list[str]) -> float | None:
    """The answer's lifetime in seconds (None: not stated), clamped in `kept`; raises
    `UnusableTokenAnswer` when it makes the token unusable."""
    if "expires_in" in kept:
        raw = kept["expires_in"]
        expires_in = seconds(raw)
        problem = lifetime_problem("expires_in", raw, expires_in)
        if problem is not None:
            raise UnusableTokenAnswer(f"the token answer says {problem}")
        assert expires_in is not None
        if expires_in > MAX_TOKEN_LIFETIME_S:
            kept["expires_in"] = MAX_TOKEN_LIFETIME_S
            warnings.append(
                f"treated expires_in={shown(raw)} as {MAX_TOKEN_LIFETIME_S} s, the longest "
                f"lifetime Entra ID gives"
            )
        # msal reads expires_on too when it is there, and fails on nonsense.
        if "expires_on" in kept and seconds(kept["expires_on"]) is None:
            warnings.append(f"ignored expires_on={shown(kept.pop('expires_on'))}")
        return min(expires_in, MAX_TOKEN_LIFETIME_S)
    if "expires_on" in kept:
        raw = kept["expires_on"]
        on = seconds(raw)
        expires_in = None if on is None else on - now
        problem = lifetime_problem("expires_on", raw, expires_in)
        if problem is not None:
            raise UnusableTokenAnswer(f"the token answer says {problem}")
        assert expires_in is not None
        if expires_in > MAX_TOKEN_LIFETIME_S:
            kept["expires_on"] = int(now) + MAX_TOKEN_LIFETIME_S
            warnings.append(f"treated expires_on={shown(raw)} as {MAX_TOKEN_LIFETIME_S} s from now")
        return min(expires_in, MAX_TOKEN_LIFETIME_S)
    return None


# -- tenants -----------------------------------------------------------------------------------


def token_tenant(token: object) -> str | None:
    """The ``tid`` claim of a JWT access token, unverified; None for opaque tokens."""
    tid = jwt_claims(token).get("tid")
    return str(tid) if isinstance(tid, str) and tid else None


def _client_info_tenant(body: dict[str, Any]) -> str | None:
    """The home tenant (``utid``) that a token answer's ``client_info`` names."""
    utid = client_info(body.get("client_info")).get("utid")
    return utid if isinstance(utid, str) and _GUID.fullmatch(utid) else None


def home_tenant(home_account_id: object) -> str | None:
    """The home tenant in msal's ``home_account_id`` (``<object id>.<tenant id>``)."""
    if not isinstance(home_account_id, str) or "." not in home_account_id:
        return None
    tid = home_account_id.rsplit(".", 1)[1]
    return tid if _GUID.fullmatch(tid) else None


def expected_tenant(asked: str | None, home: str | None) -> str | None:
    """The tenant a token must be for: `asked` if it is a tenant ID; the `home` tenant if
    Entra ID picks it (``organizations`` / ``common``); else None (not checked)."""
    if not asked:
        return None
    if _GUID.fullmatch(asked):
        return asked.lower()
    if asked.lower() in _HOME_TENANT_ALIASES and home and home.lower() != _MSA_TENANT:
        return home.lower()
    return None


def wrong_tenant(token: object, expected: str | None) -> str | None:
    """Why `token` must not be used for tenant `expected`, or None."""
    if expected is None:
        return None
    tid = token_tenant(token)
    if tid is None or tid.lower() == expected:
        return None
    return (
        f"the token answer holds a token for tenant {redact(tid)[:40]}, but it was asked for "
        f"tenant {expected}"
    )
