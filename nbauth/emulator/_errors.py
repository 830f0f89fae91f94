"""Error responses shaped exactly like Entra's and ARM's, so client error handling is exercised."""

from __future__ import annotations

import datetime as dt
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


class EntraFailure(Exception):
    """An Entra error to answer with (AADSTS code, OAuth error, message, HTTP status).

    Grants and client authentication raise it; each route turns it into Entra's error shape at
    one place (``response``).
    """

    def __init__(
        self, code: int, error: str, message: str, status: int = 400, **extra: object
    ) -> None:
        super().__init__(message)
        self.code, self.error, self.message, self.status = code, error, message, status
        self.extra = extra

    def response(self, request: Request) -> Response:
        return entra_error(request, self.code, self.error, self.message, self.status, **self.extra)


def missing_parameter(name: str) -> EntraFailure:
    return EntraFailure(
        900144,
        "invalid_request",
        f"The request body must contain the following parameter: '{name}'.",
    )


def bad_assertion_signature(exc: Exception) -> EntraFailure:
    """A client assertion (certificate or federated) that fails its JWT checks."""
    return EntraFailure(
        700027,
        "invalid_client",
        f"Client assertion failed signature validation. ({type(exc).__name__})",
        status=401,
    )


def correlation_id(request: Request) -> str:
    """Entra echoes the client's ``client-request-id`` (msal sends one) as the correlation id."""
    return request.headers.get("client-request-id") or str(uuid.uuid4())


def entra_error(
    request: Request,
    code: int,
    error: str,
    message: str,
    status: int = 400,
    suberror: str | None = None,
    **extra: object,
) -> JSONResponse:
    now = dt.datetime.now(dt.timezone.utc)
    timestamp = now.strftime("%Y-%m-%d %H:%M:%S") + "Z"
    trace_id = str(uuid.uuid4())
    corr = correlation_id(request)
    host = f"{request.url.scheme}://{request.url.netloc}"
    body: dict[str, object] = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {corr} "
            f"Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": corr,
        # Entra points at login.microsoftonline.com/error; the emulator serves its own page.
        "error_uri": f"{host}/error?code={code}",
    }
    if suberror:
        body["suberror"] = suberror
    body.update(extra)
    headers = {**NO_STORE, "x-ms-request-id": trace_id, "client-request-id": corr}
    return JSONResponse(body, status_code=status, headers=headers)


def arm_error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )
