"""Every route of the emulator: control plane, trainers, admin (one module per service)."""

from __future__ import annotations

from starlette.routing import Route

from ..backend import Backend
from .admin import ADMIN_PREFIX, admin_routes
from .control import control_routes
from .trainer import trainer_routes

__all__ = ["ADMIN_PREFIX", "all_routes"]


def all_routes(backend: Backend) -> list[Route]:
    """The routes of one emulator, in matching order."""
    return [*control_routes(backend), *trainer_routes(backend), *admin_routes(backend)]
