"""Deployment routes on the control plane (``/v1/accounts/{a}/deployments...``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from ..wire import read_json
from .endpoint import check_account, json_route

__all__ = ["deployment_routes"]


def deployment_routes(backend: Backend) -> list[Route]:
    """Create, get, update, scale, delete; the optional signal ledger."""
    account = backend.settings.account_id
    deployments, serving = backend.deployments, backend.serving

    def deployment_of(request: Request) -> str:
        check_account(request, account)
        deployment: str = request.path_params["deployment"]
        return deployment

    async def create(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        query = dict(request.query_params)
        record = deployments.create(query.get("deploymentId"), body, query)
        return serving.resource(record.deployment_id)

    async def get(request: Request) -> Any:
        return serving.resource(deployment_of(request))

    async def update(request: Request) -> Any:
        deployment = deployment_of(request)
        body = await read_json(request)
        _, rolled = deployments.update(deployment, body, request.query_params.get("updateMask"))
        if rolled:
            serving.roll(deployment)
        return serving.resource(deployment)

    async def scale(request: Request) -> Any:
        deployment = deployment_of(request)
        body = await read_json(request)
        deployments.scale(deployment, body.get("replicaCount"))
        return serving.resource(deployment)

    async def delete(request: Request) -> Any:
        deployment = deployment_of(request)
        deployments.delete(deployment)
        return {}

    async def ledger(request: Request) -> Any:
        return {"entries": serving.ledger(deployment_of(request))}

    async def reset_ledger(request: Request) -> Any:
        serving.reset_ledger(deployment_of(request))
        return {}

    root = "/v1/accounts/{account}/deployments"
    one = root + "/{deployment}"
    return [
        json_route(root, create, "POST"),
        json_route(one + ":scale", scale, "POST"),
        json_route(one + "/ledger", ledger),
        json_route(one + "/ledger", reset_ledger, "DELETE"),
        json_route(one, get),
        json_route(one, update, "PATCH"),
        json_route(one, delete, "DELETE"),
    ]
