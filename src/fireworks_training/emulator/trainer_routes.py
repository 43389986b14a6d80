"""Trainer API routes (``/training/v1/rlorTrainerJobs/{account}/{job}/api/v1/<op>``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from .backend import Backend
from .routing import Handler, check_account, json_endpoint
from .wire import ApiError, read_json

__all__ = ["FUTURE_OPS", "TRAINER_PREFIX", "trainer_routes"]

TRAINER_PREFIX = "/training/v1/rlorTrainerJobs/{account}/{job}/api/v1"
FUTURE_OPS = (
    "forward_backward",
    "forward",
    "optim_step",
    "save_weights",
    "load_weights",
    "save_weights_for_sampler",
)
_POLL_INTERVAL_S = 0.01


def trainer_routes(backend: Backend) -> list[Route]:
    """The trainer API routes of every job."""
    account = backend.settings.account_id
    lock = backend.store.lock
    trainers = backend.trainers

    async def healthz(request: Request) -> Any:
        check_account(request, account)
        with lock:
            trainers.running(request.path_params["job"])
        return {"status": "ok"}

    async def create_session(request: Request) -> Any:
        check_account(request, account)
        await read_json(request)
        with lock:
            return trainers.create_session(request.path_params["job"])

    async def heartbeat(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        with lock:
            return trainers.heartbeat(request.path_params["job"], body)

    async def create_model(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        with lock:
            return trainers.create_model(request.path_params["job"], body)

    def submitter(op: str) -> Handler:
        async def submit(request: Request) -> Any:
            check_account(request, account)
            body = await read_json(request)
            with lock:
                return trainers.submit(request.path_params["job"], op, body)

        return submit

    async def retrieve(request: Request) -> Any:
        check_account(request, account)
        body = await read_json(request)
        request_id = body.get("request_id")
        if not isinstance(request_id, str):
            raise ApiError(400, "request_id is required")
        job = request.path_params["job"]
        deadline = time.monotonic() + backend.settings.long_poll_seconds
        with lock:
            result = trainers.poll(job, request_id)
        if result is not None:
            return result
        with backend.long_polls.holding(job):  # counted only once it is really held
            while result is None:
                if time.monotonic() >= deadline or backend.closing:
                    return {"type": "try_again", "request_id": request_id, "queue_state": "active"}
                await asyncio.sleep(_POLL_INTERVAL_S)
                with lock:
                    result = trainers.poll(job, request_id)
        return result

    async def list_checkpoints(request: Request) -> Any:
        check_account(request, account)
        with lock:
            return trainers.state_names(request.path_params["job"])

    def route(op: str, handler: Handler, method: str = "POST") -> Route:
        return Route(f"{TRAINER_PREFIX}/{op}", json_endpoint(handler), methods=[method])

    return [
        route("healthz", healthz, "GET"),
        route("create_session", create_session),
        route("session_heartbeat", heartbeat),
        route("create_model", create_model),
        route("retrieve_future", retrieve),
        route("list_checkpoints", list_checkpoints, "GET"),
        *(route(op, submitter(op)) for op in FUTURE_OPS),
    ]
