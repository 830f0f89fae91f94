"""What a person does on the sign-in page, shared by the page and the admin API."""

from __future__ import annotations

from ._conditional_access import blocks_device_code
from ._context import EmulatorContext
from ._seed import User
from ._state import AdminError, DeviceCode


def eligible_users(ctx: EmulatorContext, code: DeviceCode) -> list[User]:
    """Users who may approve a code: anyone for organizations/common, else members and guests."""
    return [u for u in ctx.directory.users if code.tenant_id is None or code.tenant_id in u.oids]


def approve(ctx: EmulatorContext, username: str, user_code: str | None = None) -> DeviceCode:
    user = ctx.directory.user(username or "")
    if user is None:
        known = ", ".join(u.username for u in ctx.directory.users)
        raise AdminError(f"Unknown user {username!r}; seeded users: {known}.", 404)
    with ctx.state.lock:
        code = ctx.state.find_user_code(user_code)
        if code.tenant_id is not None and code.tenant_id not in user.oids:
            tenant = ctx.directory.tenant(code.tenant_id)
            raise AdminError(
                f"{user.username} is neither a member nor a guest of tenant "
                f"{tenant.display_name if tenant else code.tenant_id}; pick another user.",
                403,
            )
        # The person signed in; Conditional Access then judges the tenant the token is for.
        tenant_id = code.tenant_id or user.home_tenant_id
        blocked = device_code_blocked(ctx, tenant_id)
        code.status, code.username = ("blocked" if blocked else "approved"), user.username
        return code


def device_code_blocked(ctx: EmulatorContext, tenant_id: str) -> bool:
    setting = ctx.state.get_settings()["block_device_code"]
    return blocks_device_code(setting, ctx.directory, tenant_id)


def decline(ctx: EmulatorContext, user_code: str | None = None) -> DeviceCode:
    with ctx.state.lock:
        code = ctx.state.find_user_code(user_code)
        code.status = "declined"
        return code


def expire(ctx: EmulatorContext, user_code: str | None = None) -> DeviceCode:
    with ctx.state.lock:
        code = ctx.state.find_user_code(user_code)
        code.expires_at = ctx.state.now()
        return code
