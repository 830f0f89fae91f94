"""The directory the emulator serves: tenants, users, subscriptions, apps.

A seed is JSON (or the equivalent dict). Tenants may be referred to by ``tenant_id`` or ``domain``
everywhere a ``tenant`` field appears. Schema::

    {
      "tenants": [                       # at least one
        {"tenant_id": GUID, "domain": "contoso.example", "display_name": "Contoso",
         "country_code": "US"}           # country_code optional (default "US")
      ],
      "users": [
        {"username": "alice@contoso.example", "password": "...", "display_name": "Alice",
         "tenant": HOME_TENANT, "oid": GUID,            # oid optional (derived from username)
         "mfa_required": false,                         # true: password grant -> AADSTS50076
         "guest_of": [{"tenant": OTHER_TENANT, "oid": GUID}]}   # optional; oid optional
      ],
      "subscriptions": [
        {"subscription_id": GUID, "tenant": TENANT, "display_name": "...",
         "state": "Enabled",                            # optional
         "users": [USERNAME, ...],                      # who sees it (members or guests)
         "service_principals": [CLIENT_ID, ...],        # optional
         "resource_groups": [{"name": "rg", "location": "westeurope"}]}   # optional
      ],
      "service_principals": [
        {"client_id": GUID, "object_id": GUID, "tenant": TENANT, "display_name": "...",
         "client_secret": "..." | null,                 # null: a random one per start
         "roles": ["..."]}                              # app roles put in access tokens
      ],
      "public_clients": [{"client_id": GUID, "display_name": "..."} | GUID, ...],
      "managed_identities": [           # optional; served by the managed identity endpoint
        {"kind": "system" | "user", "client_id": GUID, "object_id": GUID, "tenant": TENANT,
         "display_name": "...", "resource_id": "/subscriptions/.../userAssignedIdentities/x"}
      ],                                 # at most one "system"; list client_ids in subscriptions
      "block_device_code": false         # optional; true or [TENANT, ...]: Conditional Access
    }                                    # refuses the device-code flow (_conditional_access)

A service principal may also have ``"federated_credentials": [{"subject": "...",
"issuer": URL, "audiences": ["api://AzureADTokenExchange"]}]`` (issuer optional: the emulator's
own workload issuer, see ``_federation``): workload identity sign-ins present such tokens.

The emulator also registers, at every start, a certificate for each service principal
(``Emulator.info["service_principal"]["certificate_path"]`` for the first one).
Use obviously fake domains (``*.example``): tokens name them.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ca import Certificate

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
MANAGED_IDENTITY_SYSTEM = "managed_identity_system"
MANAGED_IDENTITY_USER = "managed_identity_user"


class SeedError(ValueError):
    """The seed does not describe a usable directory; the message names the bad entry."""


@dataclass
class Tenant:
    tenant_id: str
    domain: str
    display_name: str
    country_code: str = "US"


@dataclass
class User:
    username: str
    password: str
    display_name: str
    home_tenant_id: str
    mfa_required: bool
    oids: dict[str, str]  # tenant id -> object id there (home first, then guest tenants)

    @property
    def home_oid(self) -> str:
        return self.oids[self.home_tenant_id]

    def is_guest_in(self, tenant_id: str) -> bool:
        return tenant_id in self.oids and tenant_id != self.home_tenant_id


@dataclass
class ServicePrincipal:
    client_id: str
    object_id: str
    tenant_id: str
    display_name: str
    client_secret: str
    roles: list[str]
    certificate: Certificate | None = None  # registered at start
    kind: str = "application"  # or MANAGED_IDENTITY_SYSTEM / MANAGED_IDENTITY_USER
    resource_id: str | None = None  # managed identities: their ARM resource id
    federated_credentials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_managed_identity(self) -> bool:
        return self.kind != "application"


@dataclass
class Subscription:
    subscription_id: str
    tenant_id: str
    display_name: str
    state: str
    users: set[str]
    service_principals: set[str]
    resource_groups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Directory:
    tenants: list[Tenant]
    users: list[User]
    subscriptions: list[Subscription]
    service_principals: list[ServicePrincipal]
    public_clients: dict[str, str]  # client id -> display name
    block_device_code: bool | list[str] = False  # the tenants' Conditional Access

    def tenant(self, ref: str) -> Tenant | None:
        """A tenant by id or domain (case-insensitive), as Entra resolves the path segment."""
        ref = ref.lower()
        for tenant in self.tenants:
            if ref in (tenant.tenant_id, tenant.domain.lower()):
                return tenant
        return None

    def user(self, username: str) -> User | None:
        username = username.lower()
        return next((u for u in self.users if u.username.lower() == username), None)

    def user_by_oid(self, tenant_id: str, oid: str) -> User | None:
        return next((u for u in self.users if u.oids.get(tenant_id) == oid), None)

    def service_principal(self, client_id: str) -> ServicePrincipal | None:
        return next((sp for sp in self.service_principals if sp.client_id == client_id), None)

    def app_name(self, client_id: str) -> str:
        if client_id in self.public_clients:
            return self.public_clients[client_id]
        sp = self.service_principal(client_id)
        return sp.display_name if sp else client_id


def load_seed(seed: None | dict[str, Any] | str | os.PathLike[str]) -> Directory:
    if seed is None:
        data = json.loads(resources.files(__package__).joinpath("default_seed.json").read_text())
    elif isinstance(seed, dict):
        data = seed
    else:
        try:
            data = json.loads(Path(seed).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SeedError(f"Cannot read the seed file {seed}: {exc}. Pass a JSON file.") from exc
    try:
        return _parse(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SeedError(
            f"The seed is missing or mistypes {exc}; see nbauth.emulator._seed for the schema."
        ) from exc


def _derived_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "nbauth-emulator:" + ":".join(parts)))


def _parse(data: dict[str, Any]) -> Directory:
    tenants = [
        Tenant(
            tenant_id=t["tenant_id"].lower(),
            domain=t["domain"],
            display_name=t.get("display_name", t["domain"]),
            country_code=t.get("country_code", "US"),
        )
        for t in data["tenants"]
    ]
    if not tenants:
        raise SeedError("The seed needs at least one tenant.")
    directory = Directory(tenants, [], [], [], {})

    def tenant_id(ref: str, where: str) -> str:
        tenant = directory.tenant(ref)
        if tenant is None:
            raise SeedError(f"{where} refers to tenant {ref!r}, which the seed does not define.")
        return tenant.tenant_id

    for u in data.get("users", []):
        home = tenant_id(u["tenant"], f"User {u['username']}")
        oids = {home: u.get("oid") or _derived_guid(u["username"], home)}
        for guest in u.get("guest_of", []):
            tid = tenant_id(guest["tenant"], f"User {u['username']}")
            oids[tid] = guest.get("oid") or _derived_guid(u["username"], tid)
        directory.users.append(
            User(
                username=u["username"],
                password=u["password"],
                display_name=u.get("display_name", u["username"]),
                home_tenant_id=home,
                mfa_required=bool(u.get("mfa_required", False)),
                oids=oids,
            )
        )
    for sp in data.get("service_principals", []):
        directory.service_principals.append(
            ServicePrincipal(
                client_id=sp["client_id"].lower(),
                object_id=sp.get("object_id") or _derived_guid("sp", sp["client_id"]),
                tenant_id=tenant_id(sp["tenant"], f"Service principal {sp['client_id']}"),
                display_name=sp.get("display_name", sp["client_id"]),
                # Generated per start unless pinned, so leak tests have a fresh value to look for.
                client_secret=sp.get("client_secret") or "emu~" + secrets.token_urlsafe(30),
                roles=list(sp.get("roles", [])),
                federated_credentials=[dict(f) for f in sp.get("federated_credentials", [])],
            )
        )
    for mi in data.get("managed_identities", []):
        directory.service_principals.append(_managed_identity(mi, tenant_id))
    if sum(sp.kind == MANAGED_IDENTITY_SYSTEM for sp in directory.service_principals) > 1:
        raise SeedError("The seed may have at most one system-assigned managed identity.")
    for s in data.get("subscriptions", []):
        sid = s["subscription_id"].lower()
        users = set()
        for name in s.get("users", []):
            if directory.user(name) is None:
                raise SeedError(f"Subscription {sid} lists unknown user {name!r}.")
            users.add(name.lower())
        directory.subscriptions.append(
            Subscription(
                subscription_id=sid,
                tenant_id=tenant_id(s["tenant"], f"Subscription {sid}"),
                display_name=s.get("display_name", sid),
                state=s.get("state", "Enabled"),
                users=users,
                service_principals={c.lower() for c in s.get("service_principals", [])},
                resource_groups=list(s.get("resource_groups", [])),
            )
        )
    for client in data.get("public_clients", [{"client_id": AZURE_CLI_CLIENT_ID}]):
        if isinstance(client, str):
            client = {"client_id": client}
        directory.public_clients[client["client_id"].lower()] = client.get(
            "display_name", client["client_id"]
        )
    directory.block_device_code = _block_device_code(
        data.get("block_device_code", False), tenant_id
    )
    return directory


def _block_device_code(value: object, tenant_id: Callable[[str, str], str]) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if not isinstance(value, list) or not all(isinstance(ref, str) for ref in value):
        raise SeedError(
            f"The seed's block_device_code must be true, false or a list of tenant ids or "
            f"domains; got {value!r}."
        )
    for ref in value:
        tenant_id(ref, "block_device_code")
    return value


def _managed_identity(mi: dict[str, Any], tenant_id: Callable[[str, str], str]) -> ServicePrincipal:
    kind = mi.get("kind", "system")
    if kind not in ("system", "user"):
        raise SeedError(f"Managed identity {mi['client_id']}: kind must be 'system' or 'user'.")
    return ServicePrincipal(
        client_id=mi["client_id"].lower(),
        object_id=mi.get("object_id") or _derived_guid("mi", mi["client_id"]),
        tenant_id=tenant_id(mi["tenant"], f"Managed identity {mi['client_id']}"),
        display_name=mi.get("display_name", mi["client_id"]),
        # Managed identities have no secret anyone could know: client credentials never work.
        client_secret="emu-mi~" + secrets.token_urlsafe(30),
        roles=list(mi.get("roles", [])),
        kind=MANAGED_IDENTITY_SYSTEM if kind == "system" else MANAGED_IDENTITY_USER,
        resource_id=mi.get("resource_id"),
    )
