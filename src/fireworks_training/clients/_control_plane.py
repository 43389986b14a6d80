"""What both control-plane clients share and that does no I/O.

Requests are built here as plain values, replies are parsed here; ``FireworksClient`` and
``AsyncFireworksClient`` only send them (see ``fireworks.py``). Wire: PROTOCOL.md §1.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._constants import DEFAULT_CONNECT_TIMEOUT_S, MAX_PAGE_SIZE
from .._models import validate_list
from .._retry import RetryPolicy
from .._transport import build_headers, resolve_api_key, resolve_base_url
from ..checkpoints.names import ModelName, OperationName, TrainerJobName, check_account_id
from ..checkpoints.types import Checkpoint, Model, OperationStatus, TrainerJob
from ..errors import AccountResolutionError, APIError, InvalidArgumentError
from ..pagination import Page

__all__ = [
    "ControlPlaneBase",
    "Request",
    "accounts_request",
    "check_operation_name",
    "check_page_size",
    "decode_json",
    "list_checkpoints_request",
    "model_from_response",
    "model_request",
    "model_status",
    "operation_request",
    "parse_account",
    "parse_base_model",
    "parse_checkpoint_page",
    "parse_promote_reply",
    "trainer_job_request",
]

logger = logging.getLogger("fireworks_training")


def _sleep_sync(seconds: float) -> None:
    time.sleep(seconds)


async def _sleep_async(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Request:
    """One control-plane request: method, path (starting with ``/``), query, JSON body."""

    method: str
    path: str
    params: dict[str, str | int] | None = None
    json: dict[str, Any] | None = None


def check_page_size(page_size: int) -> int:
    """A page size in 1..1000, else :class:`InvalidArgumentError`."""
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise InvalidArgumentError(f"page_size must be an int, got {type(page_size).__name__}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"page_size must be in 1..{MAX_PAGE_SIZE}, got {page_size}")
    return page_size


def check_operation_name(name: object) -> str:
    """An operation resource name such as ``accounts/a/operations/op-1``."""
    if not isinstance(name, str | OperationName):
        raise InvalidArgumentError(f"name must be an operation name, got {type(name).__name__}")
    return str(OperationName.parse(name))


# Requests -------------------------------------------------------------------------------


def accounts_request() -> Request:
    """``GET /v1/accounts?pageSize=2``: two, so that several accounts are noticed."""
    return Request("GET", "/v1/accounts", params={"pageSize": 2})


def list_checkpoints_request(job: TrainerJobName, page_size: int, token: str | None) -> Request:
    """One page of a trainer job's checkpoint rows."""
    params: dict[str, str | int] = {"pageSize": page_size}
    if token:
        params["pageToken"] = token
    return Request("GET", f"/v1/{job}/checkpoints", params=params)


def trainer_job_request(job: TrainerJobName) -> Request:
    """``GET`` of a trainer job."""
    return Request("GET", f"/v1/{job}")


def model_request(model: ModelName) -> Request:
    """``GET`` of a model."""
    return Request("GET", f"/v1/{model}")


def model_status(model: Model) -> OperationStatus:
    """A model seen as an operation: done once READY (a recovered promotion may still copy)."""
    return OperationStatus(name=model.name, done=model.state == "READY", response=model.to_wire())


def operation_request(name: str) -> Request:
    """``GET`` of a long-running operation."""
    return Request("GET", f"/v1/{name}")


# Replies --------------------------------------------------------------------------------


def decode_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful reply (an empty body is ``{}``)."""
    if not response.content:
        return {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        request = response.request
        raise APIError(
            f"{response.status_code} {request.method} {request.url.path}: "
            "reply is not a JSON object"
        )
    return body


def parse_account(body: Mapping[str, Any]) -> str:
    """The only account of the API key, from ``GET /v1/accounts``."""
    accounts = body.get("accounts") or []
    names = [a.get("name") for a in accounts if isinstance(a, Mapping)]
    if len(names) != 1:
        raise AccountResolutionError(
            f"expected exactly one account for this API key, found {len(names)}; pass account_id="
        )
    name = names[0]
    if not isinstance(name, str) or not name.startswith("accounts/"):
        raise AccountResolutionError(f"unexpected account name {name!r} from GET /v1/accounts")
    return name.removeprefix("accounts/")


def parse_checkpoint_page(body: Mapping[str, Any]) -> Page[Checkpoint]:
    """One page of rows; older servers name the list ``rlorTrainerJobCheckpoints``."""
    rows = body.get("checkpoints")
    if rows is None:
        rows = body.get("rlorTrainerJobCheckpoints")
    # The reply was decoded for this call alone: its row dicts can be kept without a copy.
    items = validate_list(Checkpoint, rows or [], copy=False)
    token = body.get("nextPageToken")
    return Page(items, token if isinstance(token, str) and token else None)


def parse_base_model(body: Mapping[str, Any]) -> str:
    """The trainer job's ``trainingConfig.baseModel``; a clear error when it has none."""
    job = TrainerJob.model_validate(body)
    base = job.training_config.base_model if job.training_config else None
    if not base:
        raise InvalidArgumentError(
            f"trainer job {job.name} has no trainingConfig.baseModel; pass base_model="
        )
    return base


def parse_promote_reply(body: Mapping[str, Any]) -> Model | OperationStatus:
    """A ``:promote`` reply: ``{"model": ...}`` (synchronous) or ``{"operation": ...}``."""
    operation = body.get("operation")
    if isinstance(operation, Mapping):
        return OperationStatus.model_validate(operation)
    model = body.get("model")
    if isinstance(model, Mapping):
        return Model.model_validate(model)
    raise APIError(f"unexpected :promote reply with keys {sorted(body)}")


def model_from_response(response: dict[str, Any]) -> Model:
    """The model in a finished promotion's ``response`` (``@type`` already dropped)."""
    inner = response.get("model")
    if "name" not in response and isinstance(inner, Mapping):
        response = {k: v for k, v in inner.items() if k != "@type"}
    return Model.model_validate(response)


# Shared client state --------------------------------------------------------------------


def _http_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return httpx.Timeout(None)
    if timeout <= 0:
        raise InvalidArgumentError(f"timeout must be > 0, got {timeout}")
    return httpx.Timeout(timeout, connect=min(timeout, DEFAULT_CONNECT_TIMEOUT_S))


class ControlPlaneBase:
    """Configuration and request plumbing of both clients; no I/O."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        *,
        account_id: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        additional_headers: Mapping[str, str] | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self._base_url = resolve_base_url(base_url)
        self._account_id = None if account_id is None else check_account_id(account_id)
        self._timeout = _http_timeout(timeout)
        self._headers = build_headers(self._api_key, additional_headers=additional_headers)
        self._sleep = _sleep_sync
        self._async_sleep = _sleep_async
        self._retry = RetryPolicy(
            max_retries=max_retries, sleep=self._sleep, async_sleep=self._async_sleep
        )

    @property
    def base_url(self) -> str:
        """The control-plane URL requests go to."""
        return self._base_url

    @property
    def account_id(self) -> str | None:
        """The account id, when given or already resolved (no request)."""
        return self._account_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._base_url!r}, account_id={self._account_id!r})"
        )

    def _url(self, request: Request) -> str:
        return self._base_url + request.path

    def _log_reply(self, request: Request, response: httpx.Response) -> None:
        logger.debug("%s %s -> %d", request.method, request.path, response.status_code)
