"""Everything the emulator remembers between requests; shared by the server threads.

One lock guards it all: requests are tiny and rare, and a single lock keeps "approve the newest
pending code" and "poll that code" from interleaving.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._faults import Fault, FaultSpecError, fault_from_spec

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
    # Conditional Access: true (every tenant), false, or tenant ids / domains (_conditional_access).
    "block_device_code": False,
    # The emulator's clock for what it remembers (codes, pending sign-ins, refresh tokens) runs
    # this far ahead; the tokens it signs keep real time, so clients' own checks still pass.
    "clock_offset_s": 0,
}

_SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "access_token_lifetime_s": int,
    "refresh_token_lifetime_s": int,
    "refresh_in_s": (int, type(None)),
    "device_code_interval_s": int,
    "device_code_lifetime_s": int,
    "slow_down_polls": int,
    "auto_approve": (str, type(None)),
    "auto_approve_delay_s": (int, float),
    "block_device_code": (bool, list),
    "clock_offset_s": (int, float),
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
    status: str = "pending"  # pending, approved, blocked (Conditional Access), declined, redeemed
    username: str | None = None
    last_poll: float | None = None
    slow_downs_left: int = 0

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def public(self) -> dict[str, Any]:
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


class EmulatorState:
    def __init__(self, base_settings: dict[str, Any]) -> None:
        self._lock = threading.RLock()
        self._base_settings = {**DEFAULT_SETTINGS, **base_settings}
        self.settings = dict(self._base_settings)
        self.device_codes: dict[str, DeviceCode] = {}
        self.refresh_grants: dict[str, RefreshGrant] = {}
        self.tokens_valid_from: dict[str, float] = {}  # username -> revocation time
        self.request_log: list[dict[str, Any]] = []
        self.faults: dict[str, list[Fault]] = {}
        self.issued: dict[str, list[str]] = {
            "access_tokens": [],
            "refresh_tokens": [],
            "id_tokens": [],
            "device_codes": [],
            "authorization_codes": [],
            # PKCE verifiers that reached the token endpoint: secret until redeemed, and a
            # client must never show one (the leak audit searches for them).
            "code_verifiers": [],
            "client_secrets": [],
            "passwords": [],
        }

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # settings -------------------------------------------------------------------------------

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(_SETTING_TYPES))
        if unknown:
            raise AdminError(f"Unknown setting(s) {unknown}; known: {sorted(_SETTING_TYPES)}.")
        for key, value in changes.items():
            kind = _SETTING_TYPES[key]
            accepted = kind if isinstance(kind, tuple) else (kind,)
            is_bool = isinstance(value, bool)
            if (is_bool and bool not in accepted) or not isinstance(value, accepted):
                raise AdminError(f"Setting {key!r} got {value!r}; expected {accepted}.")
        if changes.get("device_code_interval_s", 1) < 1:
            raise AdminError("device_code_interval_s must be at least 1 (msal busy-loops on 0).")
        if not math.isfinite(changes.get("clock_offset_s", 0)):
            raise AdminError("clock_offset_s must be a finite number of seconds.")
        with self._lock:
            self.settings.update(changes)
            return dict(self.settings)

    def get_settings(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.settings)

    def now(self) -> float:
        """The emulator's clock: real time moved by ``clock_offset_s`` (tests skip ahead)."""
        with self._lock:
            return time.time() + float(self.settings["clock_offset_s"])

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
            now = self.now()
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
            now = self.now()
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

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.now()
            self.apply_auto_approvals(now)
            return [
                c.public()
                for c in sorted(self.device_codes.values(), key=lambda c: c.created)
                if c.status == "pending" and not c.expired(now)
            ]

    # refresh tokens -------------------------------------------------------------------------

    def new_refresh_token(self, username: str, client_id: str, scopes: list[str]) -> str:
        with self._lock:
            now = self.now()
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
            now = self.now()
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

    def log_request(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.request_log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.request_log]

    def clear_requests(self) -> None:
        with self._lock:
            self.request_log.clear()

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            endpoint, fault = fault_from_spec(spec)
        except FaultSpecError as exc:
            raise AdminError(str(exc)) from None
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

    def issued_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {k: list(v) for k, v in self.issued.items()}
