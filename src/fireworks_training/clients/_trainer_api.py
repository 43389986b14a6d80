"""The trainer API resource (docs/protocol.md §2): its requests, replies and async client.

A mutating op is submitted (``POST /api/v1/<op>``, retried with the same ``seq_id`` and the
same ``X-Idempotency-Key``) and its result long-polled (``retrieve_future``) within
:class:`~fireworks_training.retries.PollTuning`'s budgets; sessions, models, heartbeats and
the list of state checkpoints are plain calls. Everything goes through the base client: one
send, decoder, error mapping, retry policy and backoff. There is no sync twin: the public
trainer clients run this on a loop thread.
"""

from __future__ import annotations

import re
import uuid
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
    ProtocolError,
    RequestFailedError,
)
from ._async._base_client import AsyncAPIClient
from ._base_client import Request
from ._http_errors import redact
from ._trainer_wire import create_session_body

__all__ = [
    "ENDED_JOB_STATES",
    "IDEMPOTENCY_HEADER",
    "MAX_CONNECTIONS",
    "AsyncTrainerAPI",
    "ended_job_state",
    "parse_checkpoint_names",
    "read_retryable",
    "submit_retryable",
]

RETRIEVE_PATH = "/api/v1/retrieve_future"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
MAX_CONNECTIONS = 64
# forward/backward results carry per-token outputs for a whole batch: far larger than any
# control-plane reply, still bounded (see BaseClient.max_reply_bytes).
MAX_REPLY_BYTES = 1024 * 1024 * 1024
QUICK_REPOLLS = 3  # 408/5xx answers re-polled at once before backing off
# A try_again answered sooner than this was not held by the server (no long poll): the
# next poll waits, growing from 50 ms to 1 s, instead of spinning hundreds of times a second.
LONG_POLL_MIN_S = 1.0
TRY_AGAIN_BACKOFF = Backoff(0.05, 2.0, 1.0)
# A trainer job in one of these states has no trainer process: no result will ever come.
ENDED_JOB_STATES = frozenset(
    {
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_CANCELLING",
        "JOB_STATE_PAUSED",
        "JOB_STATE_COMPLETED",
        "JOB_STATE_EARLY_STOPPED",
        "JOB_STATE_DELETING",
        "JOB_STATE_DELETED",
        "JOB_STATE_ARCHIVED",
        "JOB_STATE_EXPIRED",
    }
)
_JOB_STATE = re.compile(r"\bJOB_STATE_[A-Z_]+\b")
# retrieve_future's X-Tinker-Request-Type, by op.
_REQUEST_TYPES = {
    "create_model": "CreateModel",
    "forward_backward": "ForwardBackward",
    "forward": "Forward",
    "optim_step": "OptimStep",
    "save_weights": "SaveWeights",
    "save_weights_for_sampler": "SaveWeightsForSampler",
    "load_weights": "LoadWeights",
    "load_adapter": "LoadAdapter",
    "unload_model": "Unload model",
}


def ended_job_state(exc: BaseException) -> str | None:
    """The ended job state an error answer names (``JOB_STATE_DELETED``, ...), if any."""
    if not isinstance(exc, APIStatusError):
        return None
    for state in _JOB_STATE.findall(exc.server_message or exc.message):
        if state in ENDED_JOB_STATES:
            return str(state)
    return None


def submit_retryable(exc: BaseException) -> bool:
    """Submits are retried on connection errors, timeouts, 408, 409, 429 and 5xx.

    Not when the answer says the trainer job has ended: no resend can succeed then.
    """
    if isinstance(exc, APIConnectionError):
        return True
    if isinstance(exc, APIStatusError) and ended_job_state(exc) is None:
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def read_retryable(exc: BaseException) -> bool:
    """Reads are retried as on the control plane, unless the trainer job has ended."""
    return is_retryable(exc) and ended_job_state(exc) is None


def new_idempotency_key() -> str:
    """A fresh key for one logical request; its resends carry the same one."""
    return f"fireworks-training-{uuid.uuid4()}"


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
    resets all of them. A budget spent raises the last failure; an answer saying the
    trainer job has ended raises at once.
    """

    def __init__(self, tuning: PollTuning, backoff: Backoff) -> None:
        self._tuning = tuning
        self._backoff = backoff
        self._failures = self._timeouts = self._quick = self._limited = self._idle = 0

    def answered(self, *, pending: bool) -> None:
        """A reply came; ``pending``: it was ``try_again``."""
        self._failures = self._timeouts = 0
        if pending:
            self._quick = self._limited = 0

    def wait_after_try_again(self, held_s: float) -> float:
        """Seconds to wait after a ``try_again`` the server held for ``held_s``."""
        self.answered(pending=True)
        if held_s >= LONG_POLL_MIN_S:
            self._idle = 0  # a long poll: ask again at once
            return 0.0
        self._idle += 1
        return TRY_AGAIN_BACKOFF.delay(self._idle)

    def wait_after(self, exc: APIError) -> float:
        """Seconds to wait before polling again after ``exc``; raises it when out of budget."""
        tuning = self._tuning
        if ended_job_state(exc) is not None:
            raise exc
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


def _not_a_result(what: str) -> ProtocolError:
    """A 200 to ``retrieve_future`` that carries no result."""
    return ProtocolError(
        f"200 POST {RETRIEVE_PATH}: {what}", status_code=200, method="POST", path=RETRIEVE_PATH
    )


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
        self, path: str, body: Mapping[str, Any], *, retry: bool = True, base_url: str | None = None
    ) -> dict[str, Any]:
        """POST under the submit retry rules; one idempotency key for the call and its resends."""
        request = Request(
            "POST",
            path,
            json=body,
            base_url=base_url,
            headers={IDEMPOTENCY_HEADER: new_idempotency_key()},
        )
        if not retry:
            return await self._send(request)
        return await self._call(request, retry_on=submit_retryable)

    async def get(self, path: str, *, base_url: str | None = None) -> dict[str, Any]:
        """GET under the idempotent retry rules."""
        return await self._call(Request("GET", path, base_url=base_url), retry_on=read_retryable)

    async def submit(self, op: str, body: Mapping[str, Any]) -> tuple[str, float]:
        """Submit an op; its ``request_id`` and the submit's round trip in seconds."""
        started = self._clock()
        reply = await self.post(f"/api/v1/{op}", body)
        return _required_text(reply, "request_id", f"{op} submit answer"), self._clock() - started

    def _retrieve_request(
        self, request_id: str, op: str, iteration: int, roundtrip_s: float | None, *, full: bool
    ) -> Request:
        headers = {
            IDEMPOTENCY_HEADER: new_idempotency_key(),
            "X-Tinker-Request-Iteration": str(iteration),
            "X-Tinker-Request-Type": _REQUEST_TYPES.get(op, op),
        }
        if iteration == 0 and roundtrip_s is not None:
            headers["X-Tinker-Create-Promise-Roundtrip-Time"] = str(roundtrip_s)
        body = {"request_id": request_id, "allow_metadata_only": not full}
        return Request(
            "POST", RETRIEVE_PATH, json=body, timeout=self._tuning.poll_timeout_s, headers=headers
        )

    async def retrieve(
        self, request_id: str, op: str = "", roundtrip_s: float | None = None
    ) -> dict[str, Any]:
        """Poll ``retrieve_future`` until the op is finished (docs/protocol.md §2.1).

        ``roundtrip_s``, the submit's round trip, goes with the first poll (as the official
        client reports it).
        """
        polls = _Polls(self._tuning, self._poll_backoff)
        full = False  # first ask for the metadata only, as the official client does
        iteration = 0
        while True:
            request = self._retrieve_request(request_id, op, iteration, roundtrip_s, full=full)
            iteration += 1
            started = self._clock()
            try:
                reply = await self._send(request)
            except APIError as exc:
                delay = polls.wait_after(exc)
                if delay > 0:
                    await self._retry.async_sleep(delay)
                continue
            if reply.get("type") == "try_again":
                delay = polls.wait_after_try_again(self._clock() - started)
                if delay > 0:
                    await self._retry.async_sleep(delay)
                continue
            polls.answered(pending=False)
            if reply.get("status") == "complete_metadata":
                if full:
                    raise _not_a_result("a metadata-only answer to a request for the whole result")
                full = True  # the result is ready: fetch it whole, at once
                continue
            if "error" in reply:
                raise RequestFailedError(
                    redact(str(reply["error"]), self._api_key),
                    category=str(reply.get("category") or "unknown").lower(),
                    request_id=request_id,
                )
            if not reply:  # an empty body (a proxy's 200 or 204) confirms nothing
                raise _not_a_result("an empty answer is no result")
            return reply

    async def create_session(self, user_metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """A new session; the answer (``session_id`` checked)."""
        reply = await self.post("/api/v1/create_session", create_session_body(user_metadata))
        _required_text(reply, "session_id", "create_session answer")
        return reply

    async def created_model(self, request_id: str, roundtrip_s: float | None = None) -> str:
        """The id of the model a submitted ``create_model`` made, once the trainer made it."""
        result = await self.retrieve(request_id, "create_model", roundtrip_s)
        return _required_text(result, "model_id", "create_model result", request_id)

    async def heartbeat(self, session_id: str | None) -> None:
        """Keep the session alive; sent once (the next beat is the retry)."""
        body = {"session_id": session_id, "type": "session_heartbeat"}
        await self.post("/api/v1/session_heartbeat", body, retry=False)

    async def list_checkpoints(self) -> list[str]:
        """Names of the trainer's resumable state checkpoints."""
        return parse_checkpoint_names(await self.get("/api/v1/list_checkpoints"))
