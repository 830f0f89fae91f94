"""What every route of the emulator shares: the directory, the state and the token issuer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request

from ._keys import SigningKey
from ._seed import Directory
from ._state import EmulatorState
from ._tokens import TokenIssuer


@dataclass
class EmulatorContext:
    directory: Directory
    state: EmulatorState
    key: SigningKey
    issuer: TokenIssuer
    authority_host: str  # https://127.0.0.1:<port>
    arm_endpoint: str  # https://127.0.0.1:<arm_port>/
    device_login_url: str  # http://127.0.0.1:<http_port>/devicelogin


Form = Mapping[str, str]
"""A request's form fields. Entra's endpoints take text only, so an uploaded file is no field."""


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}
