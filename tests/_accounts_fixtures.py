"""Helpers shared by the account / subscription / picker / magic tests.

Import what you use by name (``from _accounts_fixtures import ...``); fixtures defined here
register in the importing module. Builds on `_core_fixtures` (a fresh Session per test, the
admin client with a 1 s device-code interval) and the real emulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _core_fixtures import (  # noqa: F401 - re-exported for the test modules
    ALICE,
    ARM_SCOPE,
    BOB,
    CONTOSO,
    FABRIKAM,
    STORAGE_SCOPE,
    admin_fixture,
    approving_prompt,
    assert_no_secret_in,
    clock_fixture,
    issued_secrets,
    nbsession_fixture,
    sign_in,
    token_requests,
)

CAROL = "carol@fabrikam.example"
DAVE = "dave@contoso.example"  # member of Contoso, no subscriptions

_SEED = json.loads(
    (
        Path(__file__).resolve().parent.parent / "nbauth" / "emulator" / "default_seed.json"
    ).read_text()
)
_TENANT_ID = {t["domain"]: t["tenant_id"] for t in _SEED["tenants"]}
TENANT_NAME = {t["tenant_id"]: t["display_name"] for t in _SEED["tenants"]}


def seeded_subscriptions(username: str) -> dict[str, dict[str, str]]:
    """tenant ID -> {subscription ID: display name} the seed gives `username`."""
    out: dict[str, dict[str, str]] = {}
    for sub in _SEED["subscriptions"]:
        if username in sub["users"]:
            tenant = _TENANT_ID[sub["tenant"]]
            out.setdefault(tenant, {})[sub["subscription_id"]] = sub["display_name"]
    return out


def seeded_tenants(username: str) -> set[str]:
    """The tenant IDs the seed makes `username` a member or guest of."""
    for user in _SEED["users"]:
        if user["username"] == username:
            return {
                _TENANT_ID[user["tenant"]],
                *(_TENANT_ID[g["tenant"]] for g in user.get("guest_of", [])),
            }
    raise KeyError(username)


def requests_of(admin, endpoint: str) -> list[dict]:
    return [r for r in admin.requests() if r.get("endpoint") == endpoint]


@pytest.fixture(name="alice")
def alice_fixture(nbsession, admin):
    """`nbsession` with alice signed in (device code, approved through the admin API)."""
    sign_in(nbsession, admin, ALICE)
    return nbsession


@pytest.fixture(name="alice_and_carol")
def alice_and_carol_fixture(nbsession, admin):
    """`nbsession` with alice, then carol signed in: carol is current, alice is cached."""
    sign_in(nbsession, admin, ALICE)
    sign_in(nbsession, admin, CAROL)
    return nbsession


def widget_states() -> list[str]:
    """The JSON state of every live ipywidgets widget: what a saved notebook would hold."""
    from ipywidgets.widgets.widget import _instances

    return [json.dumps(w.get_state(), default=str) for w in list(_instances.values())]
