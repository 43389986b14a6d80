"""The trainer clients: ``FiretitanServiceClient`` and ``FiretitanTrainingClient``.

The trainer API of docs/protocol.md §2, in tinker's shape. Every op returns a
:class:`~fireworks_training.futures.TrainerFuture` at once; ops are sent in call order
(``seq_id`` 1, 2, ...) even from many threads, and their results may be read in any order.
Requests run on one background event loop thread per trainer connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import threading
import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import tinker

from .._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, HEARTBEAT_INTERVAL_S
from .._retry import PollTuning, RetryPolicy
from ..checkpoints.kinds import SamplerCheckpointType, choose_sampler_type
from ..checkpoints.names import (
    check_checkpoint_name,
    check_load_reference,
    cross_job_reference,
)
from ..checkpoints.types import SaveSamplerResult
from ..errors import APIError, FireworksError, InvalidArgumentError
from ..futures import TrainerFuture
from . import _trainer_wire as wire
from ._trainer_api import AsyncTrainerAPI, create_model_body
from ._trainer_engine import OpSequencer, TrainerConnection

__all__ = ["FiretitanServiceClient", "FiretitanTrainingClient", "PollTuning"]

_log = logging.getLogger("fireworks_training.trainer")


def _connect(
    base_url: str,
    api_key: str | None,
    timeout: float,
    max_retries: int,
    retry_policy: RetryPolicy | None,
    additional_headers: Mapping[str, str] | None,
    tuning: PollTuning | None,
) -> TrainerConnection:
    if not isinstance(base_url, str) or not base_url.strip():
        raise InvalidArgumentError("base_url (the trainer URL) is required")
    api = AsyncTrainerAPI(
        base_url.strip(),
        api_key,
        timeout=timeout,
        retry_policy=retry_policy or RetryPolicy(max_retries=max_retries),
        additional_headers=additional_headers,
        tuning=tuning,
    )
    return TrainerConnection(api)


class _Closing:
    """Closed at the end of a ``with`` block."""

    def close(self) -> None:
        raise NotImplementedError  # pragma: no cover

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FiretitanTrainingClient(_Closing):
    """One model on a trainer: training ops, state and sampler saves, loads, references."""

    def __init__(
        self,
        base_url: str,
        model_id: str,
        lora_rank: int = 0,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        additional_headers: Mapping[str, str] | None = None,
        poll_tuning: PollTuning | None = None,
    ) -> None:
        rank = wire.check_lora_rank(lora_rank)
        if not isinstance(model_id, str) or not model_id:
            raise InvalidArgumentError(f"model_id must be a non-empty string, got {model_id!r}")
        conn = _connect(
            base_url, api_key, timeout, max_retries, retry_policy, additional_headers, poll_tuning
        )
        self._setup(conn, model_id, rank, owner=None)

    @classmethod
    def _attach(
        cls,
        connection: TrainerConnection,
        model_id: str,
        lora_rank: int,
        owner: FiretitanServiceClient,
    ) -> FiretitanTrainingClient:
        """A client on a service client's connection (which the service client closes)."""
        client = cls.__new__(cls)
        client._setup(connection, model_id, lora_rank, owner=owner)
        return client

    def _setup(
        self,
        connection: TrainerConnection,
        model_id: str,
        lora_rank: int,
        owner: FiretitanServiceClient | None,
    ) -> None:
        self._conn = connection
        self._owner = owner
        self._model_id = model_id
        self._lora_rank = lora_rank
        self._session_id = secrets.token_hex(4)
        self._ops = OpSequencer(connection, model_id)
        self._sampler_names: set[str] = set()
        self._has_saved_sampler = False
        self._closed = False

    @property
    def model_id(self) -> str:
        """The trainer's id of this model."""
        return self._model_id

    @property
    def lora_rank(self) -> int:
        """The LoRA rank; 0 for full-parameter training."""
        return self._lora_rank

    @property
    def session_id(self) -> str:
        """8 lowercase hex characters, new for every client; suffix of sampler names."""
        return self._session_id

    @property
    def base_url(self) -> str:
        """The trainer base URL."""
        return self._conn.base_url

    def __repr__(self) -> str:
        return (
            f"FiretitanTrainingClient(base_url={self.base_url!r}, model_id={self._model_id!r}, "
            f"lora_rank={self._lora_rank}, session_id={self._session_id!r})"
        )

    # Training ------------------------------------------------------------------------------

    def forward_backward(
        self, data: Sequence[tinker.types.Datum], loss_fn: str = "cross_entropy"
    ) -> TrainerFuture[tinker.types.ForwardBackwardOutput]:
        """Forward and backward pass over ``data``; gradients accumulate until ``optim_step``."""
        if not isinstance(loss_fn, str) or not loss_fn:
            raise InvalidArgumentError(f"loss_fn must be a non-empty string, got {loss_fn!r}")
        if not data:
            raise InvalidArgumentError("forward_backward needs at least one datum")
        datums = [wire.datum_json(d) for d in data]
        fields = {"forward_backward_input": {"data": datums, "loss_fn": loss_fn}}
        return self._ops.enqueue(
            "forward_backward", fields, lambda body, _: wire.forward_backward_output(body)
        )

    def optim_step(
        self, adam_params: tinker.types.AdamParams
    ) -> TrainerFuture[tinker.types.OptimStepResponse]:
        """One Adam step over the accumulated gradients."""
        fields = {"adam_params": wire.adam_params_json(adam_params)}
        return self._ops.enqueue(
            "optim_step", fields, lambda body, _: wire.optim_step_response(body)
        )

    # State (DCP) checkpoints ---------------------------------------------------------------

    def save_state(
        self, name: str, ttl_seconds: int | None = None, *, timeout: float | None = None
    ) -> TrainerFuture[str]:
        """Save weights and optimizer state as ``name``; a future of the state path.

        With ``timeout``, wait for the save and raise ``TimeoutError`` when it runs out (the
        save goes on on the trainer).
        """
        fields: dict[str, Any] = {"path": check_checkpoint_name(name)}
        ttl = wire.check_ttl(ttl_seconds)
        if ttl is not None:
            fields["ttl_seconds"] = ttl
        future = self._ops.enqueue("save_weights", fields, wire.state_path)
        if timeout is not None:
            future.result(timeout)
        return future

    def load_state(self, path: str) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        """Load weights from a state checkpoint; the optimizer state starts fresh."""
        return self._load(path, optimizer=False)

    def load_state_with_optimizer(
        self, path: str
    ) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        """Load weights and optimizer state from a state checkpoint (what resume needs)."""
        return self._load(path, optimizer=True)

    def _load(
        self, path: str, *, optimizer: bool
    ) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        fields = {"path": check_load_reference(path), "optimizer": optimizer}
        return self._ops.enqueue(
            "load_weights", fields, lambda body, _: wire.load_weights_response(body)
        )

    # Sampler checkpoints -------------------------------------------------------------------

    def save_weights_for_sampler(
        self,
        name: str,
        ttl_seconds: int | None = None,
        *,
        checkpoint_type: SamplerCheckpointType | str | None = None,
    ) -> TrainerFuture[tinker.types.SaveWeightsForSamplerResponse]:
        """Save sampler weights as ``<name>-<session_id>``; does not block.

        Without ``checkpoint_type``: LoRA saves ``base``; full-parameter saves ``base`` until a
        sampler save of this client succeeded, then ``delta``.
        """
        snapshot, fields = self._sampler_request(name, ttl_seconds, checkpoint_type)
        return self._ops.enqueue(
            "save_weights_for_sampler", fields, lambda body, _: self._sampler_saved(body, snapshot)
        )

    def save_weights_for_sampler_ext(
        self,
        name: str,
        checkpoint_type: SamplerCheckpointType | str | None = None,
        ttl_seconds: int | None = None,
    ) -> SaveSamplerResult:
        """Save sampler weights and wait; the trainer's path and the suffixed name sent."""
        snapshot, fields = self._sampler_request(name, ttl_seconds, checkpoint_type)
        future = self._ops.enqueue(
            "save_weights_for_sampler", fields, lambda body, _: self._sampler_saved(body, snapshot)
        )
        return SaveSamplerResult(path=future.result().path, snapshot_name=snapshot)

    def _sampler_request(
        self,
        name: str,
        ttl_seconds: int | None,
        checkpoint_type: SamplerCheckpointType | str | None,
    ) -> tuple[str, dict[str, Any]]:
        logical = check_checkpoint_name(name)
        snapshot = check_checkpoint_name(f"{logical}-{self._session_id}")
        kind = choose_sampler_type(
            checkpoint_type, lora_rank=self._lora_rank, has_saved_sampler=self._has_saved_sampler
        )
        fields: dict[str, Any] = {"path": snapshot, "checkpoint_type": kind.value}
        ttl = wire.check_ttl(ttl_seconds)
        if ttl is not None:
            fields["ttl_seconds"] = ttl
        if logical in self._sampler_names:
            warnings.warn(
                f"sampler checkpoint {logical!r} was already saved by this client; "
                f"saving it again overwrites {snapshot!r}",
                UserWarning,
                stacklevel=3,
            )
        self._sampler_names.add(logical)
        return snapshot, fields

    def _sampler_saved(
        self, body: dict[str, Any], snapshot: str
    ) -> tinker.types.SaveWeightsForSamplerResponse:
        path = body.get("path")
        self._has_saved_sampler = True
        return tinker.types.SaveWeightsForSamplerResponse(
            path=path if isinstance(path, str) and path else snapshot
        )

    # References ----------------------------------------------------------------------------

    def list_checkpoints(self) -> list[str]:
        """Names of the resumable state checkpoints on this trainer; failures raise.

        An answer without a ``checkpoints`` list, or with an entry that is not a name, raises
        ``RequestFailedError`` rather than returning a partial list.
        """
        return self._conn.runner.run(self._conn.api.list_checkpoints())

    def resolve_checkpoint_path(
        self, checkpoint_name: str, source_job_id: str | None = None
    ) -> str:
        """The validated name, or ``cross_job://<source_job_id>/<name>`` for another job."""
        if source_job_id is None:
            return check_checkpoint_name(checkpoint_name)
        return cross_job_reference(source_job_id, checkpoint_name)

    # Lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop waiting for results (unfinished futures are cancelled) and release resources."""
        if self._closed:
            return
        self._closed = True
        self._ops.close()
        if self._owner is None:
            self._conn.close()
        else:
            self._owner._client_closed(self)


class FiretitanServiceClient(_Closing):
    """A trainer endpoint: creates training clients and keeps the session alive."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        additional_headers: Mapping[str, str] | None = None,
        heartbeat_interval_s: float | None = HEARTBEAT_INTERVAL_S,
        poll_tuning: PollTuning | None = None,
    ) -> None:
        self._conn = _connect(
            base_url, api_key, timeout, max_retries, retry_policy, additional_headers, poll_tuning
        )
        self._heartbeat_interval_s = heartbeat_interval_s
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._model_count = 0
        self._clients: list[FiretitanTrainingClient] = []
        self._heartbeat: concurrent.futures.Future[None] | None = None
        self._closed = False

    @property
    def base_url(self) -> str:
        """The trainer base URL."""
        return self._conn.base_url

    @property
    def server_session_id(self) -> str | None:
        """The trainer session (from ``create_session``), once a training client exists."""
        return self._session_id

    def __repr__(self) -> str:
        return f"FiretitanServiceClient(base_url={self.base_url!r})"

    def create_training_client(
        self, base_model: str, lora_rank: int = 0
    ) -> FiretitanTrainingClient:
        """Create a model on the trainer (a session first, once) and a client for it."""
        if not isinstance(base_model, str) or not base_model.strip():
            raise InvalidArgumentError(f"base_model must be a non-empty string, got {base_model!r}")
        rank = wire.check_lora_rank(lora_rank)
        with self._lock:
            if self._closed:
                raise FireworksError("the service client is closed")
            model_id = self._conn.runner.run(self._create_model(base_model.strip(), rank))
            client = FiretitanTrainingClient._attach(self._conn, model_id, rank, self)
            self._clients.append(client)
            self._start_heartbeat()
        return client

    async def _create_model(self, base_model: str, lora_rank: int) -> str:
        api = self._conn.api
        if self._session_id is None:
            self._session_id = await api.create_session()
        body = create_model_body(self._session_id, self._model_count, base_model, lora_rank)
        request_id = await api.submit("create_model", body)
        self._model_count += 1  # taken once submitted, whatever the result
        return await api.created_model(request_id)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None and self._heartbeat_interval_s is not None:
            self._heartbeat = self._conn.runner.spawn(self._beat(self._heartbeat_interval_s))

    def _stop_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None

    async def _beat(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._conn.api.heartbeat(self._session_id)
            except APIError as exc:
                _log.debug("session heartbeat failed: %s", exc)

    def _client_closed(self, client: FiretitanTrainingClient) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
            if not self._clients:
                self._stop_heartbeat()

    def close(self) -> None:
        """Close every training client made here, stop the heartbeat, release the pool."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients = list(self._clients)
        for client in clients:
            client.close()
        self._stop_heartbeat()
        self._conn.close()
