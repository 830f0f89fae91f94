"""A sign-in request built from what the caller gave: every argument checked, defaults applied.

Nothing changes while a request is built: a refused argument leaves the session, its pending
sign-in and the cloud registry as they were. The method checks its own options in ``start``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _arguments, _clouds, _log_redaction
from .._base_errors import ConfigurationError
from .._prompt import print_notice, print_prompt
from .._scopes import SignInDefaults, normalize_scopes
from . import SignInRequest, canonical_name

if TYPE_CHECKING:
    from .._prompt import Prompt

__all__ = ["build_request"]


def build_request(
    method: str,
    *,
    defaults: SignInDefaults,
    tenant: str | None,
    client_id: str | None,
    scopes: Iterable[str] | str | None,
    authority_host: str | None,
    cloud: _clouds.Cloud | str | Mapping[str, Any] | None,
    prompt: Callable[[Prompt], object] | None,
    notice: Callable[[str], object] | None,
    claims: str | None,
    options: Mapping[str, Any],
) -> tuple[SignInRequest, _clouds.Cloud | None]:
    """The request (what the call leaves out from `defaults`), and the cloud of ``cloud=``
    (checked, not yet registered) if one was given. Secret options are registered with the log
    redaction: a password need not look like a token."""
    name = canonical_name(method)
    chosen = _login_cloud(cloud, authority_host)
    if chosen is not None:
        host = chosen.authority_host
    elif authority_host:
        host = _clouds.normalize_authority_host(authority_host)
    else:
        host = defaults.host()
    if prompt is not None and not callable(prompt):
        raise ConfigurationError(
            "prompt must be a function that takes a DeviceCodePrompt, or None (print it)."
        )
    if notice is not None and not callable(notice):
        raise ConfigurationError("notice must be a function that takes a str, or None.")
    request = SignInRequest(
        method=name,
        authority_host=host,
        tenant=defaults.tenant_for(tenant),
        client_id=(
            _arguments.text(client_id, "client_id", "'04b07795-8ddb-461a-bbee-02f9e1bf7b46'")
            if client_id
            else defaults.client_id_for()
        ),
        scopes=normalize_scopes(
            scopes if scopes is not None else (chosen or _clouds.cloud_for(host)).arm_scope
        ),
        prompt=prompt or print_prompt,
        claims=_arguments.text(claims, "claims", "a JSON claims challenge") if claims else None,
        options=MappingProxyType(dict(options)),
        notice=notice or print_notice,
    )
    for option, value in options.items():
        if "secret" in option or "password" in option:
            _log_redaction.register_secret(value)
    return request, chosen


def _login_cloud(
    cloud: _clouds.Cloud | str | Mapping[str, Any] | None, authority_host: str | None
) -> _clouds.Cloud | None:
    """The cloud of ``login(cloud=...)``, checked but not yet registered; an explicit
    authority_host must agree with it."""
    if cloud is None:
        return None
    chosen = _clouds.parse_cloud(cloud)
    if authority_host and _clouds.normalize_authority_host(authority_host) != chosen.authority_host:
        raise ConfigurationError(
            f"cloud={_arguments.shown(chosen.name)} signs in at {chosen.authority_host}, but "
            f"authority_host={_arguments.shown(authority_host)} was given too. Pass one of them."
        )
    return chosen


