"""Admin routes under ``/_emulator/``: faults, preemption, promotion mode, the clock.

They need the API key like every route, and are never faulted or recorded.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from ..wire import ApiError, read_json
from .endpoint import json_route

__all__ = ["ADMIN_PREFIX", "admin_routes"]

ADMIN_PREFIX = "/_emulator"
_RULE_KEYS = (
    "route",
    "statuses",
    "rate",
    "script",
    "retry_after",
    "drop_connection",
    "drop_response",
    "latency_s",
    "seed",
)


def admin_routes(backend: Backend) -> list[Route]:
    """Routes to switch faults and modes on a running emulator."""
    faults = backend.faults

    async def list_faults(request: Request) -> Any:
        return {"rules": [r.describe() for r in faults.rules], "stats": faults.stats()}

    async def add_fault(request: Request) -> Any:
        body = await read_json(request)
        unknown = sorted(set(body) - set(_RULE_KEYS))
        if unknown:
            raise ApiError(400, f"unknown fault fields: {', '.join(unknown)}")
        try:
            rule = faults.add(**body)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, f"invalid fault rule: {exc}") from exc
        return rule.describe()

    async def clear_faults(request: Request) -> Any:
        faults.clear()
        return {}

    async def preempt(request: Request) -> Any:
        backend.preempt(request.path_params["job"])
        return {}

    async def promotion(request: Request) -> Any:
        body = await read_json(request)
        settings = backend.settings
        try:
            if "mode" in body or "seconds" in body:
                settings.set_promotion_mode(
                    body.get("mode", settings.promotion_mode), body.get("seconds")
                )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc
        if "legacy_async_promotion" in body:
            settings.legacy_async_promotion = bool(body["legacy_async_promotion"])
        return {
            "mode": settings.promotion_mode,
            "seconds": settings.promotion_seconds,
            "legacy_async_promotion": settings.legacy_async_promotion,
        }

    async def clock(request: Request) -> Any:
        body = await read_json(request)
        backend.clock.advance(float(body.get("advance_seconds", 0.0)))
        return {"now_us": backend.clock.now_us()}

    p = ADMIN_PREFIX
    return [
        json_route(f"{p}/faults", list_faults),
        json_route(f"{p}/faults", add_fault, "POST"),
        json_route(f"{p}/faults", clear_faults, "DELETE"),
        json_route(p + "/jobs/{job}:preempt", preempt, "POST"),
        json_route(f"{p}/promotion", promotion, "POST"),
        json_route(f"{p}/clock", clock, "POST"),
    ]
