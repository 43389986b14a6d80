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
from typing import TYPE_CHECKING, Any, Self

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
from ..errors import APIError, FireworksError, InvalidArgumentError, WeightSyncError
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
        kind = self._plan_sampler_save(snapshot, checkpoint_type)  # weight sync
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
        self._record_sampler_save(snapshot, path if isinstance(path, str) and path else None)
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

    # Weight sync (docs/weight-sync.md) ------------------------------------------------------
    # Sampler saves are recorded (type, and the base each delta is XORed against) so that a
    # deployment attached to the service client can hot-load them through a verified chain.
    # The machinery is in sampler_backend.py and _weight_sync_rules.py.

    _snapshot_log_lock = threading.Lock()

    def _sampler_snapshot_log(self) -> SnapshotLog:
        """This client's sampler saves, in order (made on first use)."""
        with self._snapshot_log_lock:
            log: SnapshotLog | None = getattr(self, "_snapshot_log", None)
            if log is None:
                from ._weight_sync_rules import SnapshotLog

                log = self._snapshot_log = SnapshotLog(self._lora_rank)
        return log

    def _plan_sampler_save(
        self, snapshot: str, checkpoint_type: SamplerCheckpointType | str | None
    ) -> SamplerCheckpointType:
        """The type of a sampler save about to be sent: checked against the deployment.

        With a deployment attached to the service client, full-parameter saves are
        ``delta`` only while the deployment's chain is verified to start at this client's
        latest base; else ``base``. Without one: base first, then delta.
        """
        log = self._sampler_snapshot_log()
        backend = self._owner._sampler_backend if self._owner is not None else None
        if backend is None:
            kind = choose_sampler_type(
                checkpoint_type,
                lora_rank=self._lora_rank,
                has_saved_sampler=self._has_saved_sampler,
            )
        else:
            kind = backend.next_type(checkpoint_type, log)
        log.plan(snapshot, kind)
        return kind

    def _record_sampler_save(self, snapshot: str, path: str | None) -> None:
        self._sampler_snapshot_log().saved(snapshot, path)

    def create_sampling_client(
        self, model_path: str, retry_config: Any = None
    ) -> FiretitanSamplingClient:
        """Hot-load ``model_path`` onto the service client's deployment; a client pinned to it.

        Needs ``attach_deployment`` on the service client first.
        """
        del retry_config  # sampling retries are the sampler's own (docs/weight-sync.md)
        if self._owner is None:
            raise WeightSyncError(
                "this training client has no service client with a deployment",
                category="no_deployment",
            )
        return self._owner.create_sampling_client(model_path=model_path)


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
        self._detach_deployment()  # weight sync
        self._conn.close()

    # Weight sync (docs/weight-sync.md) ------------------------------------------------------
    # A service client may own one hot-load deployment: its training clients' sampler saves
    # are typed against it and hot-loaded through its verified base/delta chain, and the
    # sampling clients it makes are pinned to what it loaded. The machinery is in
    # sampler_backend.py; these methods only hold it.

    _sampler_backend: SamplerBackend | None = None

    def attach_deployment(
        self,
        deployment_id: str,
        *,
        deployment_manager: DeploymentManager | None = None,
        base_url: str | None = None,
        hotload_timeout_s: float = 600.0,
        ready_timeout_s: float = 1800.0,
    ) -> DeploymentInfo:
        """Sample from (and hot-load onto) an existing deployment; waits until it is ready.

        ``deployment_manager`` talks to it (it stays the caller's); without one, a manager
        is made with this client's API key and ``base_url`` (else ``FIREWORKS_BASE_URL``, else
        the public control plane). Attaching another deployment replaces this one.
        """
        from .sampler_backend import SamplerBackend

        backend = SamplerBackend.attach(
            deployment_id,
            manager=deployment_manager,
            api_key=self._conn.api._api_key,
            base_url=base_url,
            hotload_timeout_s=hotload_timeout_s,
            ready_timeout_s=ready_timeout_s,
        )
        with self._lock:
            previous, self._sampler_backend = self._sampler_backend, backend
        if previous is not None:
            previous.close()
        return backend.info

    def _detach_deployment(self) -> None:
        backend, self._sampler_backend = self._sampler_backend, None
        if backend is not None:
            backend.close()

    def _backend(self) -> SamplerBackend:
        backend = self._sampler_backend
        if backend is None:
            raise WeightSyncError(
                "no deployment attached: call attach_deployment(deployment_id) first",
                category="no_deployment",
            )
        return backend

    @property
    def deployment_id(self) -> str | None:
        """The attached deployment's id, or None."""
        backend = self._sampler_backend
        return backend.deployment_id if backend is not None else None

    def hotload_sampler_snapshot(self, model_path: str) -> None:
        """Make every replica of the attached deployment serve the snapshot ``model_path``.

        ``model_path`` is a sampler save's ``path`` or ``snapshot_name`` (or its 4-segment
        row name). A delta goes incremental only on a verified chain; one that cannot raises
        :class:`~fireworks_training.errors.SnapshotChainError` before anything is sent.
        """
        self._backend().hotload(model_path, self._snapshot_logs())

    def _snapshot_logs(self) -> list[SnapshotLog]:
        with self._lock:
            clients = list(self._clients)
        return [client._sampler_snapshot_log() for client in clients]

    def create_sampling_client(
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        deployment_sampler: DeploymentSampler | None = None,
        *,
        training_client: FiretitanTrainingClient | None = None,
        tokenizer: Any = None,
        concurrency_controller: Any = None,
    ) -> FiretitanSamplingClient:
        """A sampling client on the attached deployment.

        With ``model_path``: that snapshot is hot-loaded first and the client is pinned to
        it. Without: the client samples whatever the deployment serves. A given
        ``deployment_sampler`` is wrapped as is (unpinned).
        """
        del retry_config, training_client  # sampling retries are the sampler's own
        from .sampling import FiretitanSamplingClient

        if model_path is None and deployment_sampler is not None:
            return FiretitanSamplingClient(deployment_sampler, base_model=base_model)
        backend = self._backend()
        snapshot = None
        if model_path is not None:
            snapshot = backend.hotload(model_path, self._snapshot_logs())
        return backend.sampling_client(
            snapshot, tokenizer=tokenizer, concurrency_controller=concurrency_controller
        )

    def create_deployment_sampler(
        self,
        model_path: str | None = None,
        *,
        tokenizer: Any = None,
        training_client: FiretitanTrainingClient | None = None,
        concurrency_controller: Any = None,
    ) -> DeploymentSampler:
        """A token-level sampler on the attached deployment (``model_path`` hot-loaded first)."""
        del training_client
        backend = self._backend()
        if model_path is not None:
            backend.hotload(model_path, self._snapshot_logs())
        return backend.deployment_sampler(tokenizer, concurrency_controller)

    def requires_initial_sampler_sync(self) -> bool:
        """True until the attached deployment is known to serve a snapshot of this process."""
        backend = self._backend()
        return backend.chain.state().loaded is None


if TYPE_CHECKING:  # weight sync
    from ._deployment_rules import DeploymentInfo
    from ._weight_sync_rules import SnapshotLog
    from .deployment_sampler import DeploymentSampler
    from .deployments import DeploymentManager
    from .sampler_backend import SamplerBackend
    from .sampling import FiretitanSamplingClient
