"""Turning handlers that return JSON-able objects or raise :class:`ApiError` into endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..wire import ApiError, error_response

__all__ = ["Handler", "check_account", "json_endpoint", "json_route", "page_size"]

Handler = Callable[[Request], Awaitable[Any]]

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000


def json_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint answering the handler's result as JSON (a Response as it is), or its error."""

    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ApiError as exc:
            return error_response(exc)
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


def json_route(path: str, handler: Handler, method: str = "GET") -> Route:
    """One route serving ``handler`` as a JSON endpoint."""
    return Route(path, json_endpoint(handler), methods=[method])


def check_account(request: Request, account_id: str) -> None:
    """403 when the path names another account than the key's."""
    account = request.path_params.get("account")
    if account != account_id:
        raise ApiError(
            403, f"the API key has no access to account {account!r}", reason="PERMISSION_DENIED"
        )


def page_size(request: Request) -> int:
    """The ``pageSize`` query parameter: 200 when absent or 0, at most 1000; else a 400."""
    raw = request.query_params.get("pageSize")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if size < 0:
        raise ApiError(400, f"pageSize must be a non-negative integer, got {raw!r}")
    return min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
