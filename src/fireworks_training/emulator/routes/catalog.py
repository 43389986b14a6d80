"""Training shape routes (``/v1/accounts/{a}/trainingShapes/...``); base models are served
beside promoted models by the control routes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from .endpoint import json_route, page_size

__all__ = ["catalog_routes"]


def catalog_routes(backend: Backend) -> list[Route]:
    """Get a shape, list its versions (or everyone's, with ``-``), get one version."""
    catalog = backend.catalog

    async def get_shape(request: Request) -> Any:
        path = request.path_params
        return catalog.shape_json(path["account"], path["shape"])

    async def list_versions(request: Request) -> Any:
        path, query = request.path_params, request.query_params
        return catalog.versions_page(
            path["account"],
            path["shape"],
            filter_expression=query.get("filter"),
            order_by=query.get("orderBy"),
            page_size=page_size(request),
            token=query.get("pageToken"),
        )

    async def get_version(request: Request) -> Any:
        path = request.path_params
        return catalog.version_json(path["account"], path["shape"], path["version"])

    shape = "/v1/accounts/{account}/trainingShapes/{shape}"
    return [
        json_route(shape, get_shape),
        json_route(shape + "/versions", list_versions),
        json_route(shape + "/versions/{version}", get_version),
    ]
