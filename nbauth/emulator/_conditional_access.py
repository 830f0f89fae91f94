"""Conditional Access, the one policy the emulator plays: a tenant that blocks the device-code flow.

Entra lets a tenant block device code ("Conditional Access: authentication flows"; Microsoft
"recommends blocking device code flow wherever possible"), and Microsoft's own tenant has done so
since November 2025. What a person and an app then see, copied here:

- the device-login page takes the code and lets the person pick an account; only then does it
  say "You don't have access to this ... Error Code: 53003" (Azure/azure-cli#32420);
- the app polling the token endpoint gets AADSTS53003 (Azure/azure-cli#32809): ``invalid_grant``
  with ``suberror`` ``message_only``, the ``V2Error: invalid_grant`` / ``SubError: message_only``
  that azure-cli reports for this code (Azure/azure-cli#32544, #31827); the full body, with
  ``error_codes [53003]`` and ``suberror message_only``, is quoted in dafthack/MSOLSpray#5. So::

    {"error": "invalid_grant",
     "error_description": "AADSTS53003: Access has been blocked by Conditional Access policies.
        The access policy does not allow token issuance.\\r\\nTrace ID: ...\\r\\nCorrelation ID:
        ...\\r\\nTimestamp: 2025-11-13 08:20:29Z",
     "error_codes": [53003], "timestamp": "...", "trace_id": "...", "correlation_id": "...",
     "error_uri": ".../error?code=53003", "suberror": "message_only"}

The ``block_device_code`` setting (and seed key): ``true`` blocks every tenant, ``false`` none, a
list of tenant ids or domains those tenants. A sign-in to ``organizations`` / ``common`` is judged
by the tenant its token would be for: the user's home tenant.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid

from starlette.responses import HTMLResponse

from ._errors import EntraFailure
from ._pages import page
from ._seed import Directory

BLOCKED = 53003
_MESSAGE = (
    "Access has been blocked by Conditional Access policies. "
    "The access policy does not allow token issuance."
)


def setting_problem(value: object, directory: Directory) -> str | None:
    """What is wrong with a ``block_device_code`` value, or None if it is usable."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return (
            f"block_device_code must be true, false or a list of tenant ids or domains; "
            f"got {value!r}."
        )
    unknown = [ref for ref in value if directory.tenant(ref) is None]
    if unknown:
        known = ", ".join(f"{t.domain} ({t.tenant_id})" for t in directory.tenants)
        return f"block_device_code names unknown tenant(s) {unknown}; seeded tenants: {known}."
    return None


def blocks_device_code(setting: object, directory: Directory, tenant_id: str) -> bool:
    """Whether the policy refuses a device-code sign-in whose token is for ``tenant_id``."""
    if isinstance(setting, bool):
        return setting
    if not isinstance(setting, list):
        return False
    blocked = {t.tenant_id for t in map(directory.tenant, setting) if t is not None}
    return tenant_id in blocked


def refusal() -> EntraFailure:
    """The token endpoint's answer to a client polling a refused device code."""
    return EntraFailure(BLOCKED, "invalid_grant", _MESSAGE, suberror="message_only")


def refusal_page(app_name: str, client_id: str) -> HTMLResponse:
    """Entra's page after the person picked an account: signed in, but no access."""
    e = html.escape
    now = dt.datetime.now(dt.timezone.utc)
    details = [
        ("Error Code", str(BLOCKED)),
        ("Request Id", str(uuid.uuid4())),
        ("Correlation Id", str(uuid.uuid4())),
        ("Timestamp", now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"),
        ("App name", app_name),
        ("App id", client_id),
    ]
    rows = "".join(f"<div>{e(k)}: {e(v)}</div>" for k, v in details)
    return page(
        "You don't have access to this",
        f"""<h1>You don't have access to this</h1>
  <p class="error" role="alert">Your sign-in was successful but does not meet the criteria to
     access this resource. For example, you might be signing in from a browser, app, location,
     or an authentication flow that is restricted by your admin.</p>
  <h2>Troubleshooting details</h2>
  <div class="details">{rows}</div>""",
    )
