"""Control-plane routes (``/v1/...``): accounts, trainer jobs, rows, promotion, models."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from ..jobs import job_json
from ..wire import read_json
from .endpoint import check_account, json_route, page_size

__all__ = ["control_routes"]


def control_routes(backend: Backend) -> list[Route]:
    """The ``/v1`` routes of one emulator (deployments excepted)."""
    account = backend.settings.account_id

    def _account_json() -> dict[str, Any]:
        return {"name": f"accounts/{account}", "displayName": "Emulator account", "state": "READY"}

    async def list_accounts(request: Request) -> Any:
        return {"accounts": [_account_json()], "totalSize": 1}

    async def get_account(request: Request) -> Any:
        check_account(request, account)
        return _account_json()

    async def create_job(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        shape = request.query_params.get("trainingShape")
        if shape is not None:
            backend.catalog.check_shape_ref(shape)
        job = backend.jobs.create(request.query_params.get("rlorTrainerJobId"), body)
        return job_json(job, account)

    async def get_job(request: Request) -> Any:
        check_account(request, account)
        return job_json(backend.jobs.get(request.path_params["job"]), account)

    async def delete_job(request: Request) -> Any:
        check_account(request, account)
        backend.delete(request.path_params["job"])
        return {}

    async def resume_job(request: Request) -> Any:
        check_account(request, account)
        await read_json(request, allow_empty=True)
        backend.resume(request.path_params["job"])
        return job_json(backend.jobs.get(request.path_params["job"]), account)

    async def list_rows(request: Request) -> Any:
        check_account(request, account)
        job_id = request.path_params["job"]
        backend.jobs.get(job_id)
        token = request.query_params.get("pageToken")
        return backend.rows.page_json(job_id, page_size(request), token)

    async def promote(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        return backend.promotions.promote(request.path_params["checkpoint"], body)

    async def get_model(request: Request) -> Any:
        # A published base model first (any key may read it), then the account's own models.
        path = request.path_params
        base_model = backend.catalog.model_json(path["account"], path["model"])
        if base_model is not None:
            return base_model
        check_account(request, account)
        return backend.promotions.get_model(path["model"])

    async def get_operation(request: Request) -> Any:
        check_account(request, account)
        return backend.promotions.get_operation(request.path_params["operation"])

    jobs = "/v1/accounts/{account}/rlorTrainerJobs"
    return [
        json_route("/v1/accounts", list_accounts),
        json_route("/v1/accounts/{account}", get_account),
        json_route(jobs, create_job, "POST"),
        json_route(jobs + "/{job}:resume", resume_job, "POST"),
        json_route(jobs + "/{job}", get_job),
        json_route(jobs + "/{job}", delete_job, "DELETE"),
        json_route(jobs + "/{job}/checkpoints", list_rows),
        json_route("/v1/accounts/{account}/checkpoints/{checkpoint}:promote", promote, "POST"),
        json_route("/v1/accounts/{account}/models/{model}", get_model),
        json_route("/v1/accounts/{account}/operations/{operation}", get_operation),
    ]
