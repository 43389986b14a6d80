"""Turning handlers that return JSON-able objects or raise :class:`ApiError` into endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .wire import ApiError, error_response

__all__ = ["Handler", "check_account", "json_endpoint"]

Handler = Callable[[Request], Awaitable[Any]]


def json_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering the handler's result as JSON, or its ApiError."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ApiError as exc:
            return error_response(exc)
        return JSONResponse(result)

    return endpoint


def check_account(request: Request, account_id: str) -> None:
    """403 when the path names another account than the key's."""
    account = request.path_params.get("account")
    if account != account_id:
        raise ApiError(
            403, f"the API key has no access to account {account!r}", reason="PERMISSION_DENIED"
        )
