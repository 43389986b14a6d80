"""Every route of the emulator, one module per service."""

from __future__ import annotations

from starlette.routing import Route

from ..backend import Backend
from .admin import ADMIN_PREFIX, admin_routes
from .catalog import catalog_routes
from .control import control_routes
from .deployments import deployment_routes
from .hot_load import hot_load_routes
from .inference import inference_routes
from .trainer import trainer_routes

__all__ = ["ADMIN_PREFIX", "all_routes"]


def all_routes(backend: Backend) -> list[Route]:
    """The routes of one emulator, in matching order."""
    return [
        *control_routes(backend),
        *catalog_routes(backend),
        *deployment_routes(backend),
        *trainer_routes(backend),
        *hot_load_routes(backend),
        *inference_routes(backend),
        *admin_routes(backend),
    ]
