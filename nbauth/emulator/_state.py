"""Everything the emulator remembers between requests; shared by the server threads.

One lock guards it all: requests are tiny and rare, and a single lock keeps "approve the newest
pending code" and "poll that code" from interleaving.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FAULT_ENDPOINTS = ("token", "devicecode", "discovery", "jwks", "userrealm", "arm")
"""Endpoint names for ``POST /admin/faults`` and the request log:

- ``token``: ``POST /{tenant}/oauth2/v2.0/token`` (every grant)
- ``devicecode``: ``POST /{tenant}/oauth2/v2.0/devicecode``
- ``discovery``: ``GET /{tenant}/v2.0/.well-known/openid-configuration``
- ``jwks``: ``GET /{tenant}/discovery/v2.0/keys``
- ``userrealm``: ``GET /common/userrealm/{username}``
- ``arm``: every request to the ARM server
"""

DEFAULT_SETTINGS = {
    "access_token_lifetime_s": 3600,
    "refresh_token_lifetime_s": 90 * 24 * 3600,
    # Entra sends refresh_in only for long-lived tokens; None leaves it out.
    "refresh_in_s": None,
    "device_code_interval_s": 5,
    "device_code_lifetime_s": 900,
    "slow_down_polls": 0,
    "auto_approve": None,
    "auto_approve_delay_s": 1.0,
}

_SETTING_TYPES = {
    "access_token_lifetime_s": int,
    "refresh_token_lifetime_s": int,
    "refresh_in_s": (int, type(None)),
    "device_code_interval_s": int,
    "device_code_lifetime_s": int,
    "slow_down_polls": int,
    "auto_approve": (str, type(None)),
    "auto_approve_delay_s": (int, float),
}

# Entra's user codes: 9 characters from A-Z and 0-9.
_USER_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class AdminError(ValueError):
    """A bad admin request; the message is returned to the caller as JSON ``error``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    tenant_segment: str  # as requested: a tenant id, a domain, "organizations" or "common"
    tenant_id: str | None  # None for organizations/common
    client_id: str
    scopes: list[str]
    created: float
    expires_at: float
    interval: int
    auto_approve_at: float | None = None
    auto_approve_user: str | None = None
    status: str = "pending"  # pending, approved, declined, redeemed
    username: str | None = None
    last_poll: float | None = None
    slow_downs_left: int = 0

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def public(self) -> dict:
        """What ``GET /admin/pending`` shows: never the device_code itself."""
        return {
            "user_code": self.user_code,
            "tenant": self.tenant_segment,
            "client_id": self.client_id,
            "scopes": list(self.scopes),
            "created": self.created,
            "expires_at": self.expires_at,
        }


@dataclass
class RefreshGrant:
    username: str
    client_id: str
    issued_at: float
    expires_at: float
    scopes: list[str] = field(default_factory=list)


@dataclass
class Fault:
    status: int | None
    body: object
    delay_s: float
    drop: bool
    count: int
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (``Retry-After``, ``WWW-Authenticate``...), on the fault's own
    answer or, with ``patch``, on the real one."""
    patch: dict | None = None
    """Merged into the real JSON answer instead of replacing it (e.g. a device-code response
    with another ``verification_uri``); the flow behind it keeps working."""
    content_type: str | None = None
    """The fault body's Content-Type instead of the default (malformed "JSON" bodies)."""
    body_bytes: int | None = None
    """Repeat the body (or "x") to exactly this many bytes: a huge answer."""


class EmulatorState:
    def __init__(self, base_settings: dict) -> None:
        self._lock = threading.RLock()
        self._base_settings = {**DEFAULT_SETTINGS, **base_settings}
        self.settings = dict(self._base_settings)
        self.device_codes: dict[str, DeviceCode] = {}
        self.refresh_grants: dict[str, RefreshGrant] = {}
        self.tokens_valid_from: dict[str, float] = {}  # username -> revocation time
        self.request_log: list[dict] = []
        self.faults: dict[str, list[Fault]] = {}
        self.issued: dict[str, list[str]] = {
            "access_tokens": [],
            "refresh_tokens": [],
            "id_tokens": [],
            "device_codes": [],
            "client_secrets": [],
            "passwords": [],
        }

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # settings -------------------------------------------------------------------------------

    def update_settings(self, changes: dict) -> dict:
        unknown = sorted(set(changes) - set(_SETTING_TYPES))
        if unknown:
            raise AdminError(f"Unknown setting(s) {unknown}; known: {sorted(_SETTING_TYPES)}.")
        for key, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, _SETTING_TYPES[key]):
                raise AdminError(f"Setting {key!r} got {value!r}; expected {_SETTING_TYPES[key]}.")
        if changes.get("device_code_interval_s", 1) < 1:
            raise AdminError("device_code_interval_s must be at least 1 (msal busy-loops on 0).")
        with self._lock:
            self.settings.update(changes)
            return dict(self.settings)

    def get_settings(self) -> dict:
        with self._lock:
            return dict(self.settings)

    def reset(self) -> None:
        """Back to the startup state, except keys, CA and issued tokens (which stay valid)."""
        with self._lock:
            self.settings = dict(self._base_settings)
            self.faults.clear()
            self.request_log.clear()
            self.device_codes = {
                k: v for k, v in self.device_codes.items() if v.status != "pending"
            }

    # device codes ---------------------------------------------------------------------------

    def new_device_code(
        self,
        tenant_segment: str,
        tenant_id: str | None,
        client_id: str,
        scopes: list[str],
        may_sign_in: Callable[[str, str | None], bool],
    ) -> DeviceCode:
        """A new pending code; ``may_sign_in(username, tenant_id)`` vets the auto-approve user."""
        with self._lock:
            now = time.time()
            settings = self.settings
            user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
            code = DeviceCode(
                device_code="DAQABAAEAAAD" + secrets.token_urlsafe(96),
                user_code=user_code,
                tenant_segment=tenant_segment,
                tenant_id=tenant_id,
                client_id=client_id,
                scopes=scopes,
                created=now,
                expires_at=now + settings["device_code_lifetime_s"],
                interval=settings["device_code_interval_s"],
                slow_downs_left=settings["slow_down_polls"],
            )
            if settings["auto_approve"] and may_sign_in(settings["auto_approve"], tenant_id):
                code.auto_approve_user = settings["auto_approve"]
                code.auto_approve_at = now + float(settings["auto_approve_delay_s"])
            self.device_codes[code.device_code] = code
            self.issued["device_codes"].append(code.device_code)
            return code

    def apply_auto_approvals(self, now: float) -> None:
        """Approve codes whose auto-approval is due (a person would have clicked by now)."""
        with self._lock:
            for code in self.device_codes.values():
                if (
                    code.status == "pending"
                    and code.auto_approve_at is not None
                    and now >= code.auto_approve_at
                    and not code.expired(now)
                ):
                    code.status, code.username = "approved", code.auto_approve_user

    def find_user_code(self, user_code: str | None) -> DeviceCode:
        """The pending code with this user code, or the newest pending one when None."""
        with self._lock:
            now = time.time()
            self.apply_auto_approvals(now)
            pending = [
                c
                for c in self.device_codes.values()
                if c.status == "pending" and not c.expired(now)
            ]
            if user_code is None:
                if not pending:
                    raise AdminError(
                        "No device code is pending; start a device-code sign-in first.", 409
                    )
                return max(pending, key=lambda c: c.created)
            wanted = user_code.strip().upper().replace("-", "").replace(" ", "")
            for code in self.device_codes.values():
                if code.user_code == wanted:
                    if code.status != "pending":
                        raise AdminError(f"Code {wanted} was already {code.status}.", 409)
                    if code.expired(now):
                        raise AdminError(f"Code {wanted} has expired; start a new sign-in.", 410)
                    return code
            raise AdminError(f"No device code {wanted!r}; check the code and try again.", 404)

    def pending(self) -> list[dict]:
        with self._lock:
            now = time.time()
            self.apply_auto_approvals(now)
            return [
                c.public()
                for c in sorted(self.device_codes.values(), key=lambda c: c.created)
                if c.status == "pending" and not c.expired(now)
            ]

    # refresh tokens -------------------------------------------------------------------------

    def new_refresh_token(self, username: str, client_id: str, scopes: list[str]) -> str:
        with self._lock:
            now = time.time()
            token = "1.AQoA" + secrets.token_urlsafe(160)
            self.refresh_grants[token] = RefreshGrant(
                username=username,
                client_id=client_id,
                issued_at=now,
                expires_at=now + self.settings["refresh_token_lifetime_s"],
                scopes=scopes,
            )
            self.issued["refresh_tokens"].append(token)
            return token

    def revoke(self, username: str) -> int:
        """Invalidate every refresh token of the user issued until now; returns how many."""
        with self._lock:
            now = time.time()
            self.tokens_valid_from[username.lower()] = now
            return sum(
                1
                for g in self.refresh_grants.values()
                if g.username.lower() == username.lower() and g.issued_at < now
            )

    def is_revoked(self, grant: RefreshGrant) -> bool:
        with self._lock:
            return grant.issued_at < self.tokens_valid_from.get(grant.username.lower(), 0.0)

    # request log, faults, issued ------------------------------------------------------------

    def log_request(self, entry: dict) -> None:
        with self._lock:
            self.request_log.append(entry)

    def requests(self) -> list[dict]:
        with self._lock:
            return [dict(e) for e in self.request_log]

    def clear_requests(self) -> None:
        with self._lock:
            self.request_log.clear()

    def add_fault(self, spec: dict) -> dict:
        endpoint = spec.get("endpoint")
        if endpoint not in FAULT_ENDPOINTS:
            raise AdminError(
                f"Unknown fault endpoint {endpoint!r}; use one of {list(FAULT_ENDPOINTS)}."
            )
        unknown = sorted(
            set(spec)
            - {"endpoint", "status", "body", "delay_s", "drop", "count"}
            - {"headers", "patch", "content_type", "body_bytes"}
        )
        if unknown:
            raise AdminError(f"Unknown fault field(s) {unknown}.")
        count = spec.get("count", 1)
        status = spec.get("status")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise AdminError("Fault 'count' must be a positive integer.")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise AdminError("Fault 'status' must be an HTTP status code.")
        delay = spec.get("delay_s", 0)
        if not isinstance(delay, (int, float)) or delay < 0:
            raise AdminError("Fault 'delay_s' must be a non-negative number.")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise AdminError("Fault 'headers' must be an object of header name -> string value.")
        patch = spec.get("patch")
        if patch is not None and not isinstance(patch, dict):
            raise AdminError("Fault 'patch' must be a JSON object merged into the real answer.")
        content_type = spec.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            raise AdminError("Fault 'content_type' must be a string.")
        body_bytes = spec.get("body_bytes")
        if body_bytes is not None and (
            not isinstance(body_bytes, int) or isinstance(body_bytes, bool) or body_bytes < 1
        ):
            raise AdminError("Fault 'body_bytes' must be a positive integer.")
        fault = Fault(
            status,
            spec.get("body"),
            float(delay),
            bool(spec.get("drop", False)),
            count,
            headers=dict(headers),
            patch=patch,
            content_type=content_type,
            body_bytes=body_bytes,
        )
        if (
            fault.status is None
            and not fault.drop
            and not fault.delay_s
            and fault.patch is None
            and not fault.headers
        ):
            raise AdminError(
                "A fault needs at least one of 'status', 'delay_s', 'drop', 'patch' or 'headers'."
            )
        with self._lock:
            self.faults.setdefault(endpoint, []).append(fault)
            return {"endpoint": endpoint, "queued": sum(f.count for f in self.faults[endpoint])}

    def take_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.count -= 1
            if fault.count <= 0:
                queue.pop(0)
            return fault

    def record_issued(self, kind: str, value: str) -> None:
        with self._lock:
            self.issued[kind].append(value)

    def issued_snapshot(self) -> dict:
        with self._lock:
            return {k: list(v) for k, v in self.issued.items()}
