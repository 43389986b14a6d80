"""The hot-load API: ``POST``/``GET /hot_load/v1/models/hot_load`` (docs/protocol.md §4)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from ..wire import read_json
from .endpoint import json_route

__all__ = ["HOT_LOAD_PATH", "hot_load_routes"]

HOT_LOAD_PATH = "/hot_load/v1/models/hot_load"


def hot_load_routes(backend: Backend) -> list[Route]:
    """Signal a snapshot to load, and read every replica's status."""
    serving = backend.serving

    async def signal(request: Request) -> Any:
        body = await read_json(request)
        return serving.signal(dict(request.headers), body)

    async def status(request: Request) -> Any:
        return serving.status(dict(request.headers))

    return [json_route(HOT_LOAD_PATH, signal, "POST"), json_route(HOT_LOAD_PATH, status)]
