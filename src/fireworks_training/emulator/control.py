"""Control-plane routes (``/v1/...``): accounts, trainer jobs, rows, promotion, models."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .backend import Backend
from .jobs import job_json
from .routing import check_account, json_endpoint
from .rows import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, row_json
from .wire import ApiError, read_json

__all__ = ["control_routes"]


def _page_size(request: Request) -> int:
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


def control_routes(backend: Backend) -> list[Route]:
    """The ``/v1`` routes of one emulator."""
    settings = backend.settings
    account = settings.account_id

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
        size = _page_size(request)
        with backend.store.lock:
            backend.jobs.get(job_id)
            rows, token = backend.rows.page(job_id, size, request.query_params.get("pageToken"))
            body: dict[str, Any] = {"checkpoints": [row_json(r, account) for r in rows]}
        if token:
            body["nextPageToken"] = token
        return body

    async def promote(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        return backend.promotions.promote(request.path_params["checkpoint"], body)

    async def get_model(request: Request) -> Any:
        check_account(request, account)
        return backend.promotions.get_model(request.path_params["model"])

    async def get_operation(request: Request) -> Any:
        check_account(request, account)
        return backend.promotions.get_operation(request.path_params["operation"])

    jobs = "/v1/accounts/{account}/rlorTrainerJobs"
    return [
        Route("/v1/accounts", json_endpoint(list_accounts), methods=["GET"]),
        Route("/v1/accounts/{account}", json_endpoint(get_account), methods=["GET"]),
        Route(jobs, json_endpoint(create_job), methods=["POST"]),
        Route(jobs + "/{job}:resume", json_endpoint(resume_job), methods=["POST"]),
        Route(jobs + "/{job}", json_endpoint(get_job), methods=["GET"]),
        Route(jobs + "/{job}", json_endpoint(delete_job), methods=["DELETE"]),
        Route(jobs + "/{job}/checkpoints", json_endpoint(list_rows), methods=["GET"]),
        Route(
            "/v1/accounts/{account}/checkpoints/{checkpoint}:promote",
            json_endpoint(promote),
            methods=["POST"],
        ),
        Route("/v1/accounts/{account}/models/{model}", json_endpoint(get_model), methods=["GET"]),
        Route(
            "/v1/accounts/{account}/operations/{operation}",
            json_endpoint(get_operation),
            methods=["GET"],
        ),
    ]
