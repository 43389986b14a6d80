"""The trainer API resource (docs/protocol.md §2): its requests, replies and async client.

A mutating op is submitted (``POST /api/v1/<op>``, retried with the same ``seq_id``) and its
result long-polled (``retrieve_future``) within :class:`~fireworks_training.retries.PollTuning`'s
budgets; sessions, models, heartbeats and the list of state checkpoints are plain calls.
Everything goes through the base client: one send, decoder, error mapping, retry policy and
backoff. There is no sync twin: the public trainer clients run this on a loop thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from .._backoff import Backoff
from .._retry import PollTuning, RetryPolicy, is_retryable
from ..errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    RequestFailedError,
)
from ._async._base_client import AsyncAPIClient
from ._base_client import USER_AGENT, Request
from ._http_errors import redact

__all__ = [
    "MAX_CONNECTIONS",
    "AsyncTrainerAPI",
    "create_model_body",
    "create_session_body",
    "parse_checkpoint_names",
    "submit_retryable",
]

RETRIEVE_PATH = "/api/v1/retrieve_future"
MAX_CONNECTIONS = 64
# forward/backward results carry per-token outputs for a whole batch: far larger than any
# control-plane reply, still bounded (see BaseClient.max_reply_bytes).
MAX_REPLY_BYTES = 1024 * 1024 * 1024
QUICK_REPOLLS = 3  # 408/5xx answers re-polled at once before backing off


def submit_retryable(exc: BaseException) -> bool:
    """Submits are retried on connection errors, timeouts, 408, 409, 429 and 5xx."""
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


# Requests and replies -------------------------------------------------------------------


def create_session_body() -> dict[str, Any]:
    """``create_session`` request (tinker ``CreateSessionRequest``)."""
    return {"tags": [], "sdk_version": USER_AGENT, "type": "create_session"}


def create_model_body(
    session_id: str, model_seq_id: int, base_model: str, lora_rank: int
) -> dict[str, Any]:
    """``create_model`` request (tinker ``CreateModelRequest``); LoRA config only for LoRA."""
    body: dict[str, Any] = {
        "session_id": session_id,
        "model_seq_id": model_seq_id,
        "base_model": base_model,
    }
    if lora_rank > 0:
        body["lora_config"] = {"rank": lora_rank}
    body["type"] = "create_model"
    return body


def _required_text(reply: Mapping[str, Any], key: str, what: str, request_id: str = "") -> str:
    value = reply.get(key)
    if not isinstance(value, str) or not value:
        raise RequestFailedError(f"{what} has no {key}", category="server", request_id=request_id)
    return value


def parse_checkpoint_names(reply: Mapping[str, Any]) -> list[str]:
    """Names from ``list_checkpoints``; a reply without a list of names raises.

    An entry may be a name or an object with ``name`` (or ``checkpoint_id``).
    """
    entries = reply.get("checkpoints")
    if not isinstance(entries, list):
        raise RequestFailedError(
            "list_checkpoints answer has no checkpoints list", category="server"
        )
    names: list[str] = []
    for index, entry in enumerate(entries):
        name = entry
        if isinstance(entry, Mapping):
            name = entry.get("name") or entry.get("checkpoint_id")
        if not isinstance(name, str) or not name:
            raise RequestFailedError(
                f"list_checkpoints answer entry {index} is not a checkpoint name: {entry!r:.100}",
                category="server",
            )
        names.append(name)
    return names


class _Polls:
    """Failures in a row while waiting for one result, and the wait each one asks for.

    An HTTP answer resets the connection and read-timeout counts; a ``try_again`` answer
    resets all of them. A budget spent raises the last failure.
    """

    def __init__(self, tuning: PollTuning, backoff: Backoff) -> None:
        self._tuning = tuning
        self._backoff = backoff
        self._failures = self._timeouts = self._quick = self._limited = 0

    def answered(self, *, pending: bool) -> None:
        """A reply came; ``pending``: it was ``try_again``."""
        self._failures = self._timeouts = 0
        if pending:
            self._quick = self._limited = 0

    def wait_after(self, exc: APIError) -> float:
        """Seconds to wait before polling again after ``exc``; raises it when out of budget."""
        tuning = self._tuning
        if isinstance(exc, APITimeoutError) and exc.request_sent:
            self._timeouts += 1  # the long poll outlived our read timeout: ask again now
            return _within(exc, self._timeouts, tuning.max_read_timeouts, 0.0)
        if isinstance(exc, APIConnectionError):
            self._failures += 1
            delay = self._backoff.delay(self._failures)
            return _within(exc, self._failures, tuning.max_connection_failures, delay)
        if not isinstance(exc, APIStatusError):
            raise exc
        self.answered(pending=False)
        if exc.status_code == 429:
            self._limited += 1
            delay = exc.retry_after or self._backoff.delay(self._limited)
            return _within(exc, self._limited, tuning.max_rate_limited, delay)
        if exc.status_code == 408 or exc.status_code >= 500:
            self._quick += 1  # re-polled at once a few times; a broken server is not hammered
            extra = self._quick - QUICK_REPOLLS
            delay = self._backoff.delay(extra) if extra > 0 else 0.0
            return _within(exc, self._quick, tuning.max_server_errors, delay)
        raise exc


def _within(exc: APIError, count: int, budget: int, delay: float) -> float:
    if count > budget:
        raise exc
    return delay


class AsyncTrainerAPI(AsyncAPIClient):
    """One trainer's API over HTTP, on the async base client."""

    _LIMITS: ClassVar[httpx.Limits | None] = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    _MAX_REPLY_BYTES: ClassVar[int] = MAX_REPLY_BYTES

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        retry_policy: RetryPolicy,
        additional_headers: Mapping[str, str] | None = None,
        tuning: PollTuning | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout=timeout, additional_headers=additional_headers)
        self._retry = retry_policy
        self._tuning = tuning or PollTuning()
        # The retry policy's cadence, capped lower: a result poll waits at most the cap.
        self._poll_backoff = replace(retry_policy.backoff, cap_s=self._tuning.backoff_cap_s)

    async def post(
        self, path: str, body: Mapping[str, Any], *, retry: bool = True
    ) -> dict[str, Any]:
        """POST under the submit retry rules (the body carries what makes a resend safe)."""
        request = Request("POST", path, json=body)
        if not retry:
            return await self._send(request)
        return await self._call(request, retry_on=submit_retryable)

    async def get(self, path: str) -> dict[str, Any]:
        """GET under the idempotent retry rules."""
        return await self._call(Request("GET", path), retry_on=is_retryable)

    async def submit(self, op: str, body: Mapping[str, Any]) -> str:
        """Submit an op; its ``request_id``."""
        reply = await self.post(f"/api/v1/{op}", body)
        return _required_text(reply, "request_id", f"{op} submit answer")

    async def retrieve(self, request_id: str) -> dict[str, Any]:
        """Poll ``retrieve_future`` until the op is finished (docs/protocol.md §2.1)."""
        body = {"request_id": request_id, "allow_metadata_only": False}
        request = Request("POST", RETRIEVE_PATH, json=body, timeout=self._tuning.poll_timeout_s)
        polls = _Polls(self._tuning, self._poll_backoff)
        while True:
            try:
                reply = await self._send(request)
            except APIError as exc:
                delay = polls.wait_after(exc)
                if delay > 0:
                    await self._retry.async_sleep(delay)
                continue
            pending = reply.get("type") == "try_again"
            polls.answered(pending=pending)
            if pending:
                continue  # the server long-polls: ask again at once
            if "error" in reply:
                raise RequestFailedError(
                    redact(str(reply["error"]), self._api_key),
                    category=str(reply.get("category") or "unknown").lower(),
                    request_id=request_id,
                )
            return reply

    async def create_session(self) -> str:
        """A new session; its id."""
        reply = await self.post("/api/v1/create_session", create_session_body())
        return _required_text(reply, "session_id", "create_session answer")

    async def created_model(self, request_id: str) -> str:
        """The id of the model a submitted ``create_model`` made, once the trainer made it."""
        result = await self.retrieve(request_id)
        return _required_text(result, "model_id", "create_model result", request_id)

    async def heartbeat(self, session_id: str | None) -> None:
        """Keep the session alive; sent once (the next beat is the retry)."""
        body = {"session_id": session_id, "type": "session_heartbeat"}
        await self.post("/api/v1/session_heartbeat", body, retry=False)

    async def list_checkpoints(self) -> list[str]:
        """Names of the trainer's resumable state checkpoints."""
        return parse_checkpoint_names(await self.get("/api/v1/list_checkpoints"))
