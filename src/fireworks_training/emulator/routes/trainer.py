"""Trainer API routes (``/training/v1/rlorTrainerJobs/{account}/{job}/api/v1/<op>``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..backend import Backend
from ..wire import ApiError, read_json
from .endpoint import Handler, check_account, json_route

__all__ = ["FUTURE_OPS", "TRAINER_PREFIX", "trainer_routes"]

TRAINER_PREFIX = "/training/v1/rlorTrainerJobs/{account}/{job}/api/v1"
FUTURE_OPS = (
    "forward_backward",
    "forward",
    "optim_step",
    "save_weights",
    "load_weights",
    "save_weights_for_sampler",
    "load_adapter",
)
IDEMPOTENCY_HEADER = "x-idempotency-key"
_POLL_INTERVAL_S = 0.01


def trainer_routes(backend: Backend) -> list[Route]:
    """The trainer API routes of every job."""
    account = backend.settings.account_id
    trainers = backend.trainers

    def job_of(request: Request) -> str:
        check_account(request, account)
        job: str = request.path_params["job"]
        return job

    async def healthz(request: Request) -> Any:
        trainers.running(job_of(request))
        return {"status": "ok"}

    async def create_session(request: Request) -> Any:
        job = job_of(request)
        await read_json(request)
        return trainers.create_session(job)

    async def heartbeat(request: Request) -> Any:
        job = job_of(request)
        return trainers.heartbeat(job, await read_json(request))

    async def create_model(request: Request) -> Any:
        job = job_of(request)
        body = await read_json(request)
        return trainers.create_model(job, body, request.headers.get(IDEMPOTENCY_HEADER))

    def submitter(op: str) -> Handler:
        async def submit(request: Request) -> Any:
            job = job_of(request)
            body = await read_json(request)
            return trainers.submit(job, op, body, request.headers.get(IDEMPOTENCY_HEADER))

        return submit

    async def unload_model(request: Request) -> Any:
        job = job_of(request)
        body = await read_json(request)
        return trainers.unload(job, body, request.headers.get(IDEMPOTENCY_HEADER))

    async def capabilities(request: Request) -> Any:
        return trainers.capabilities(job_of(request))

    async def telemetry(request: Request) -> Any:
        # The official training client posts its events here by default; accept them.
        backend.jobs.get(job_of(request))
        await read_json(request)
        return {"status": "accepted"}

    async def retrieve(request: Request) -> Any:
        job = job_of(request)
        body = await read_json(request)
        request_id = body.get("request_id")
        if not isinstance(request_id, str):
            raise ApiError(400, "request_id is required")
        deadline = time.monotonic() + backend.settings.long_poll_seconds
        result = trainers.poll(job, request_id)
        if result is not None:
            return result
        with backend.long_polls.holding(job):  # counted only once it is really held
            while result is None:
                if time.monotonic() >= deadline or backend.closing:
                    return {"type": "try_again", "request_id": request_id, "queue_state": "active"}
                await asyncio.sleep(_POLL_INTERVAL_S)
                result = trainers.poll(job, request_id)
        return result

    async def list_checkpoints(request: Request) -> Any:
        return trainers.state_names(job_of(request))

    def route(op: str, handler: Handler, method: str = "POST") -> Route:
        return json_route(f"{TRAINER_PREFIX}/{op}", handler, method)

    return [
        route("healthz", healthz, "GET"),
        route("create_session", create_session),
        route("session_heartbeat", heartbeat),
        route("create_model", create_model),
        route("retrieve_future", retrieve),
        route("list_checkpoints", list_checkpoints, "GET"),
        route("get_server_capabilities", capabilities, "GET"),
        route("unload_model", unload_model),
        route("telemetry", telemetry),
        *(route(op, submitter(op)) for op in FUTURE_OPS),
    ]
