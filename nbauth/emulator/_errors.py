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
        self,
        code: int,
        error: str,
        message: str,
        status: int = 400,
        suberror: str | None = None,
        **extra: object,
    ) -> None:
        super().__init__(message)
        self.code, self.error, self.message, self.status = code, error, message, status
        self.suberror = suberror
        self.extra = extra

    def response(self, request: Request) -> Response:
        return entra_error(
            request, self.code, self.error, self.message, self.status, self.suberror, **self.extra
        )


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


def described(code: int, message: str, corr: str, host: str) -> dict[str, str]:
    """Entra's description of an error: the AADSTS text, then trace id, correlation id and
    timestamp on lines of their own (``\\r\\n``, as in every body quoted in Azure/azure-cli#14244
    or MicrosoftDocs/azure-docs#114009), and the fields that repeat them."""
    timestamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + "Z"
    trace_id = str(uuid.uuid4())
    return {
        "error_description": (
            f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {corr}"
            f"\r\nTimestamp: {timestamp}"
        ),
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": corr,
        # Entra points at login.microsoftonline.com/error; the emulator serves its own page.
        "error_uri": f"{host}/error?code={code}",
    }


def entra_error(
    request: Request,
    code: int,
    error: str,
    message: str,
    status: int = 400,
    suberror: str | None = None,
    **extra: object,
) -> JSONResponse:
    host = f"{request.url.scheme}://{request.url.netloc}"
    fields = described(code, message, correlation_id(request), host)
    body: dict[str, object] = {
        "error": error,
        "error_description": fields["error_description"],
        "error_codes": [code],
        "timestamp": fields["timestamp"],
        "trace_id": fields["trace_id"],
        "correlation_id": fields["correlation_id"],
        "error_uri": fields["error_uri"],
    }
    if suberror:
        body["suberror"] = suberror
    body.update(extra)
    headers = {
        **NO_STORE,
        "x-ms-request-id": fields["trace_id"],
        "client-request-id": fields["correlation_id"],
    }
    return JSONResponse(body, status_code=status, headers=headers)


def arm_error(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )
