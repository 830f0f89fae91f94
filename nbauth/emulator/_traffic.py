"""The request log and fault injection, wrapped around the identity and ARM apps.

Both need the endpoint name and, for the log, the grant type and client id of token requests.
The form body is read here (it is small) and replayed to the app; only the two non-secret
fields are kept.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._faults import Fault
from ._server import drop_connection
from ._state import EmulatorState


class TrafficMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        state: EmulatorState,
        server: str,
        classify: Callable[[str, str], str | None],
    ) -> None:
        self.app = app
        self.state = state
        self.server = server
        self.classify = classify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = self.classify(scope["method"], scope["path"])
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        fields = _form_fields(scope, body)
        entry = {
            "time": time.time(),
            "server": self.server,
            "method": scope["method"],
            "path": scope["path"],
            "endpoint": endpoint,
            "grant_type": fields.get("grant_type"),
            "client_id": fields.get("client_id"),
            "status": None,
        }
        replayed = False
        logged = False

        def log_once() -> None:
            # Logged before the client can see an answer (or a dropped connection), so an admin
            # call made right after a response always finds its entry.
            nonlocal logged
            if not logged:
                logged = True
                self.state.log_request(entry)

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]  # in place if already logged
                log_once()
            await send(message)

        try:
            fault = self.state.take_fault(endpoint) if endpoint else None
            if fault is not None:
                entry["fault"] = True
                # At once, so a reset during a long delay does not receive a late entry.
                log_once()
                if fault.delay_s:
                    await asyncio.sleep(fault.delay_s)
                if fault.drop:
                    await drop_connection(scope)
                    return
                if fault.status is not None:
                    await _send_body(
                        record_status,
                        fault.status,
                        fault.body,
                        headers=fault.headers,
                        content_type=fault.content_type,
                        body_bytes=fault.body_bytes,
                    )
                    return
                if fault.patch is not None or fault.headers:
                    await self.app(scope, replay, _patching_send(record_status, fault))
                    return
            await self.app(scope, replay, record_status)
        finally:
            log_once()


def _form_fields(scope: Scope, body: bytes) -> dict[str, str]:
    headers = dict(scope.get("headers") or [])
    if not headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"))
    return {k: parsed[k][0] for k in ("grant_type", "client_id") if k in parsed}


# Huge fault bodies go out in slices, so the emulator never builds one 20 MB message.
_CHUNK = 1 << 20


async def _send_body(
    send: Send,
    status: int,
    body: object,
    *,
    headers: dict[str, str] | None = None,
    content_type: str | None = None,
    body_bytes: int | None = None,
) -> None:
    if body is None:
        payload, default_type = b"", b"text/plain; charset=utf-8"
    elif isinstance(body, str):
        payload, default_type = body.encode(), b"text/plain; charset=utf-8"
    else:
        payload, default_type = json.dumps(body).encode(), b"application/json; charset=utf-8"
    size = len(payload) if body_bytes is None else body_bytes
    unit = payload or b"x"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode() if content_type else default_type),
                (b"content-length", str(size).encode()),
                *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
        }
    )
    if body_bytes is None:
        await send({"type": "http.response.body", "body": payload})
        return
    block = (unit * (_CHUNK // len(unit) + 1))[:_CHUNK]
    sent = 0
    while sent < size:
        part = block[: min(_CHUNK, size - sent)]
        sent += len(part)
        await send({"type": "http.response.body", "body": part, "more_body": sent < size})


def _patching_send(send: Send, fault: Fault) -> Send:
    """A `send` that holds the app's answer, merges ``fault.patch`` into its JSON body and adds
    ``fault.headers``: the real flow goes on, with the parts a test wants changed."""
    start: Message = {}
    chunks: list[bytes] = []

    async def patched(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        payload = b"".join(chunks)
        if fault.patch:
            try:
                data = json.loads(payload)
            except ValueError:
                data = None
            if isinstance(data, dict):
                data.update(fault.patch)
                payload = json.dumps(data).encode()
        names = {k.lower() for k in fault.headers}
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() != b"content-length" and k.lower().decode() not in names
        ]
        headers.append((b"content-length", str(len(payload)).encode()))
        headers.extend((k.lower().encode(), v.encode()) for k, v in fault.headers.items())
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return patched
