"""Wire helpers shared by every route: errors in the Google style, timestamps, JSON bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = [
    "ERROR_INFO_TYPE",
    "ApiError",
    "error_body",
    "error_response",
    "format_time",
    "format_us",
    "read_json",
]

ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
ERROR_DOMAIN = "fireworks.ai"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """An HTTP error the emulator answers with; ``reason`` goes into an ErrorInfo detail."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | None = None,
        status_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.status_name = status_name
        self.headers = headers or {}


def error_body(
    status: int, message: str, *, reason: str | None = None, status_name: str | None = None
) -> dict[str, Any]:
    """``{"error": {"code", "message", "status", "details"}}`` as Google APIs answer.

    ``details`` holds an ``ErrorInfo`` with the ``reason`` a client may branch on, else is
    empty.
    """
    details = [{"@type": ERROR_INFO_TYPE, "reason": reason, "domain": ERROR_DOMAIN}]
    return {
        "error": {
            "code": status,
            "message": message,
            "status": status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
            "details": details if reason else [],
        }
    }


def error_response(exc: ApiError) -> JSONResponse:
    """The response for an :class:`ApiError`."""
    body = error_body(exc.status, exc.message, reason=exc.reason, status_name=exc.status_name)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def format_time(value: datetime, *, seconds_only: bool = False) -> str:
    """RFC 3339 in UTC with a ``Z``; microseconds unless ``seconds_only``."""
    value = value.astimezone(UTC)
    if seconds_only or value.microsecond == 0:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_us(us: int, *, seconds_only: bool = False) -> str:
    """RFC 3339 for integer microseconds since the epoch."""
    return format_time(_EPOCH + timedelta(microseconds=us), seconds_only=seconds_only)


async def read_json(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; anything else is a 400."""
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "request body must be a JSON object")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body
