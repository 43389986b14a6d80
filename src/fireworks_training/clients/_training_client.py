"""``FiretitanTrainingClient``: one model on a trainer, with tinker's ``TrainingClient`` surface.

It *is a* ``tinker.TrainingClient`` (``isinstance`` holds) without using any of tinker's
code: every public method of tinker's class is overridden here, and tinker's ``__init__``
(which wants a private session holder) is never called. Every op returns a
:class:`~fireworks_training.futures.TrainerFuture` at once (docs/protocol.md §2).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import tinker

from .._closing import Closing
from .._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from .._retry import PollTuning, RetryPolicy
from ..checkpoints.kinds import SamplerCheckpointType, choose_sampler_type
from ..checkpoints.names import check_checkpoint_name, check_load_reference, cross_job_reference
from ..checkpoints.types import SaveSamplerResult
from ..errors import InvalidArgumentError, WeightSyncError
from ..futures import TrainerFuture, chain
from . import _trainer_custom_loss as custom
from . import _trainer_wire as wire
from ._trainer_engine import OpSequencer, TrainerConnection, connect
from ._trainer_twins import AsyncTwin

if TYPE_CHECKING:
    from ._service_client import FiretitanServiceClient
    from ._weight_sync_rules import SnapshotLog
    from .sampling import FiretitanSamplingClient

__all__ = ["FiretitanTrainingClient"]

FwdBwd = tinker.types.ForwardBackwardOutput


def unsupported(what: str, instead: str) -> NoReturn:
    """One line saying what this SDK does not support and what to write instead; no request."""
    raise NotImplementedError(f"{what} is not supported by fireworks-training: {instead}")


def _fb_output(body: dict[str, Any], _: str) -> FwdBwd:
    return wire.forward_backward_output(body)


class NoTinkerConsole:
    """tinker's hosted-service extras, alike on both trainer clients: no console, no telemetry."""

    def get_console_url(self) -> NoReturn:
        """Not supported: Fireworks trainers have no tinker console."""
        unsupported("get_console_url", "read the job with TrainerJobManager(...).get(job_id)")

    def get_telemetry(self) -> None:
        """None: this client sends no telemetry."""
        return


class FiretitanTrainingClient(Closing, NoTinkerConsole, tinker.TrainingClient):
    """One model on a trainer: training ops, state and sampler saves, loads, references.

    ``forward``, ``forward_backward``, ``optim_step``, ``load_state``,
    ``load_state_with_optimizer``, ``save_weights_for_sampler`` and ``get_info`` each have an
    ``_async`` twin with the same parameters: awaiting it gives what the method returns (an
    op's future, once queued). ``create_sampling_client_async`` runs its method on a worker
    thread. The other twins are listed below.
    """

    def __init__(
        self,
        base_url: str,
        model_id: str,
        lora_rank: int = 0,
        api_key: str | None = None,
        *,
        base_model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        additional_headers: Mapping[str, str] | None = None,
        poll_tuning: PollTuning | None = None,
    ) -> None:
        rank = wire.check_lora_rank(lora_rank)
        if not isinstance(model_id, str) or not model_id:
            raise InvalidArgumentError(f"model_id must be a non-empty string, got {model_id!r}")
        conn = connect(
            base_url, api_key, timeout, max_retries, retry_policy, additional_headers, poll_tuning
        )
        self._setup(conn, model_id, rank, None, base_model)

    @classmethod
    def _attach(
        cls,
        connection: TrainerConnection,
        model_id: str,
        lora_rank: int,
        owner: FiretitanServiceClient,
        base_model: str,
    ) -> FiretitanTrainingClient:
        """A client on a service client's connection (which the service client closes)."""
        client = cls.__new__(cls)
        client._setup(connection, model_id, lora_rank, owner, base_model)
        return client

    def _setup(
        self,
        connection: TrainerConnection,
        model_id: str,
        lora_rank: int,
        owner: FiretitanServiceClient | None,
        base_model: str | None,
    ) -> None:
        self._conn = connection
        self._owner = owner
        self._model_id = model_id
        self._lora_rank = lora_rank
        self._base_model = base_model
        self._session_id = new_session_id()
        self._ops = OpSequencer(connection, model_id)
        self._sampler_names: set[str] = set()
        self._has_saved_sampler = False
        self._closed = False

    @property
    def model_id(self) -> str:  # type: ignore[override]  # read-only here; tinker's is set once
        """The trainer's id of this model."""
        return self._model_id

    @property
    def lora_rank(self) -> int:
        """The LoRA rank; 0 for full-parameter training."""
        return self._lora_rank

    @property
    def base_model(self) -> str | None:
        """The base model the trainer created this model from, when known."""
        return self._base_model

    @property
    def session_id(self) -> str:
        """8 lowercase hex characters, new for every client; suffix of sampler names."""
        return self._session_id

    @property
    def run_id(self) -> str | None:
        """Always None: a run id belongs to serverless sessions, which are not supported."""
        return None

    @property
    def base_url(self) -> str:
        """The trainer base URL."""
        return self._conn.base_url

    def __repr__(self) -> str:
        return (
            f"FiretitanTrainingClient(base_url={self.base_url!r}, model_id={self._model_id!r}, "
            f"lora_rank={self._lora_rank}, session_id={self._session_id!r})"
        )

    # Forward and backward ------------------------------------------------------------------

    def forward(
        self,
        data: Sequence[Any],
        loss_fn: str,
        loss_fn_config: Mapping[str, Any] | None = None,
    ) -> TrainerFuture[FwdBwd]:
        """A forward pass only (e.g. reference logprobs): no gradients accumulate."""
        fields = {"forward_input": _input(data, loss_fn, loss_fn_config, "forward")}
        return self._ops.enqueue("forward", fields, _fb_output, typed=False)

    forward_async = AsyncTwin(forward, in_thread=False)

    def forward_backward(
        self,
        data: Sequence[Any],
        loss_fn: str = "cross_entropy",
        loss_fn_config: Mapping[str, Any] | None = None,
    ) -> TrainerFuture[FwdBwd]:
        """Forward and backward pass over ``data``; gradients accumulate until ``optim_step``."""
        fields = {
            "forward_backward_input": _input(data, loss_fn, loss_fn_config, "forward_backward")
        }
        return self._ops.enqueue("forward_backward", fields, _fb_output, typed=False)

    forward_backward_async = AsyncTwin(forward_backward, in_thread=False)

    def forward_backward_custom(  # type: ignore[override]
        self,
        data: Sequence[Any],
        loss_fn: custom.CustomLoss,
        *,
        loss_type_input: str = "logprobs",
        output: str = "logprobs",
        pooling: str = "mean",
        precomputed_forward: FwdBwd | None = None,
    ) -> TrainerFuture[FwdBwd]:
        """Forward/backward with a loss computed here: ``loss_fn(data, logprobs)``.

        ``loss_fn`` returns ``(loss, metrics)``: a scalar torch tensor built from the list of
        per-datum logprob tensors, and a dict of floats. Blocks until the forward pass and
        the loss have run, then returns the backward pass's future; its metrics are the
        trainer's with ``metrics`` merged over them. Needs the ``torch`` extra.
        """
        torch = self._custom_checks(data, loss_type_input, output, pooling)
        forward = precomputed_forward
        if forward is None:
            forward = self.forward(custom.forward_data(data), "cross_entropy").result()
        return self._custom_backward(torch, data, loss_fn, forward)

    async def forward_backward_custom_async(  # type: ignore[override]
        self,
        data: Sequence[Any],
        loss_fn: custom.CustomLoss,
        *,
        loss_type_input: str = "logprobs",
        output: str = "logprobs",
        pooling: str = "mean",
        precomputed_forward: FwdBwd | None = None,
    ) -> TrainerFuture[FwdBwd]:
        """:meth:`forward_backward_custom` from async code: the forward is awaited."""
        torch = self._custom_checks(data, loss_type_input, output, pooling)
        forward = precomputed_forward
        if forward is None:
            forward = await self.forward(custom.forward_data(data), "cross_entropy")
        return self._custom_backward(torch, data, loss_fn, forward)

    def _custom_checks(
        self, data: Sequence[Any], loss_type_input: str, output: str, pooling: str
    ) -> Any:
        if output != "logprobs":
            unsupported(
                f"forward_backward_custom(output={output!r}) (embedding outputs)",
                "use output='logprobs'",
            )
        if loss_type_input != "logprobs":
            raise InvalidArgumentError(
                f"loss_type_input must be 'logprobs', got {loss_type_input!r}"
            )
        if pooling not in ("mean", "last"):
            raise InvalidArgumentError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        if not data:
            raise InvalidArgumentError("forward_backward_custom needs at least one datum")
        custom.forward_data(data)  # every datum has target_tokens: checked before any request
        return custom.import_torch()

    def _custom_backward(
        self, torch: Any, data: Sequence[Any], loss_fn: custom.CustomLoss, forward: FwdBwd
    ) -> TrainerFuture[FwdBwd]:
        leaves, metrics = custom.run_loss(torch, loss_fn, data, forward)
        backward = self.forward_backward(custom.backward_data(data, leaves), "cross_entropy")

        def merged(result: FwdBwd) -> FwdBwd:
            result.metrics.update(metrics)
            return result

        return chain(backward, merged)

    def forward_backward_contrastive(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: contrastive (embedding) training."""
        unsupported(
            "forward_backward_contrastive",
            "write the loss as a function of logprobs for forward_backward_custom(data, loss_fn)",
        )

    # Optimizer -------------------------------------------------------------------------------

    def optim_step(  # type: ignore[override]
        self,
        adam_params: Any = None,
        grad_accumulation_normalization: wire.GradAccNormalization | str | None = None,
        emit_grad_norm_metrics: wire.GradNormMetricsMode | bool | str | None = None,
        *,
        optim_params: Any = None,
    ) -> TrainerFuture[tinker.types.OptimStepResponse]:
        """One Adam step over the accumulated gradients.

        ``optim_step(adam)``, ``optim_step(adam_params=adam)`` and tinker's
        ``optim_step(optim_params=adam)`` are the same call.
        """
        if adam_params is not None and optim_params is not None:
            raise InvalidArgumentError("pass adam_params or optim_params, not both")
        params = adam_params if adam_params is not None else optim_params
        if params is None:
            raise InvalidArgumentError("optim_step needs adam_params (a tinker.AdamParams)")
        fields: dict[str, Any] = {
            "adam_params": wire.adam_params_json(params, emit_grad_norm_metrics)
        }
        normalization = wire.grad_accumulation_value(grad_accumulation_normalization)
        if normalization is not None:
            fields["grad_accumulation_normalization"] = normalization
        return self._ops.enqueue(
            "optim_step", fields, lambda body, _: wire.optim_step_response(body)
        )

    optim_step_async = AsyncTwin(optim_step, in_thread=False)  # type: ignore[assignment]

    # State (DCP) checkpoints ---------------------------------------------------------------

    def save_state(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: Mapping[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> TrainerFuture[tinker.types.SaveWeightsResponse]:
        """Save weights and optimizer state as ``name``; a future whose ``.path`` is the state.

        ``overwrite=True`` replaces a state of that name (the trainer refuses otherwise).
        With ``timeout``, wait for the save and raise ``TimeoutError`` when it runs out (the
        save goes on on the trainer).
        """
        if user_metadata is not None:
            unsupported(
                "save_state(user_metadata=...)",
                "drop user_metadata; TrainingCheckpoints keeps per-save data in its ledger",
            )
        if not isinstance(overwrite, bool):
            raise InvalidArgumentError(f"overwrite must be True or False, got {overwrite!r}")
        fields: dict[str, Any] = {"path": check_checkpoint_name(name)}
        ttl = wire.check_ttl(ttl_seconds)
        if ttl is not None:
            fields["ttl_seconds"] = ttl
        fields["overwrite"] = overwrite
        future = self._ops.enqueue("save_weights", fields, wire.save_weights_response)
        if timeout is not None:
            future.result(timeout)
        return future

    async def save_state_async(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: Mapping[str, str] | None = None,
    ) -> TrainerFuture[tinker.types.SaveWeightsResponse]:
        """:meth:`save_state` from async code: the future, once the op is queued."""
        return self.save_state(name, ttl_seconds, overwrite, user_metadata)

    def load_state(
        self, path: str, weights_access_token: str | None = None
    ) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        """Load weights from a state checkpoint; the optimizer state starts fresh."""
        return self._load(path, weights_access_token, optimizer=False)

    load_state_async = AsyncTwin(load_state, in_thread=False)

    def load_state_with_optimizer(
        self, path: str, weights_access_token: str | None = None
    ) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        """Load weights and optimizer state from a state checkpoint (what resume needs)."""
        return self._load(path, weights_access_token, optimizer=True)

    load_state_with_optimizer_async = AsyncTwin(load_state_with_optimizer, in_thread=False)

    def _load(
        self, path: str, weights_access_token: str | None, *, optimizer: bool
    ) -> TrainerFuture[tinker.types.LoadWeightsResponse]:
        if weights_access_token is not None:
            unsupported(
                "load_state(weights_access_token=...)",
                "drop weights_access_token; the trainer reads checkpoints with your API key",
            )
        fields = {"path": check_load_reference(path), "optimizer": optimizer}
        return self._ops.enqueue(
            "load_weights", fields, lambda body, _: wire.load_weights_response(body)
        )

    def load_adapter(self, adapter_path: str) -> TrainerFuture[wire.LoadAdapterResponse]:
        """Load a PEFT adapter's weights into this (LoRA) model."""
        if not isinstance(adapter_path, str) or not adapter_path.strip() or "\x00" in adapter_path:
            raise InvalidArgumentError(f"adapter_path must be a path, got {adapter_path!r}")
        fields = {"adapter_path": adapter_path.strip()}
        return self._ops.enqueue(
            "load_adapter", fields, lambda body, _: wire.load_adapter_response(body), typed=False
        )

    def unload_model(self) -> TrainerFuture[tinker.types.UnloadModelResponse]:
        """Free the model on the trainer once the ops in flight finished; no op after it."""
        return self._ops.unload(
            lambda body, _: tinker.types.UnloadModelResponse(
                model_id=str(body.get("model_id") or self._model_id)
            )
        )

    # Sampler checkpoints -------------------------------------------------------------------

    def save_weights_for_sampler(
        self,
        name: str,
        ttl_seconds: int | None = None,
        user_metadata: Mapping[str, str] | None = None,
        *,
        checkpoint_type: SamplerCheckpointType | str | None = None,
        export_precision: str | None = None,
        metadata: Any = None,
    ) -> TrainerFuture[tinker.types.SaveWeightsForSamplerResponse]:
        """Save sampler weights as ``<name>-<session_id>``; does not block.

        Without ``checkpoint_type``: LoRA saves ``base``; full-parameter saves ``base`` until a
        sampler save of this client succeeded, then ``delta``.
        """
        if user_metadata is not None:
            unsupported(
                "save_weights_for_sampler(user_metadata=...)",
                "drop user_metadata; TrainingCheckpoints keeps per-save data in its ledger",
            )
        _, future = self._send_sampler_save(
            name, ttl_seconds, checkpoint_type, export_precision, metadata
        )
        return future

    save_weights_for_sampler_async = AsyncTwin(save_weights_for_sampler, in_thread=False)

    def save_weights_for_sampler_ext(
        self,
        name: str,
        checkpoint_type: SamplerCheckpointType | str | None = None,
        ttl_seconds: int | None = None,
        export_precision: str | None = None,
        metadata: Any = None,
    ) -> SaveSamplerResult:
        """Save sampler weights and wait; the trainer's path and the suffixed name sent."""
        snapshot, future = self._send_sampler_save(
            name, ttl_seconds, checkpoint_type, export_precision, metadata
        )
        return SaveSamplerResult(path=future.result().path, snapshot_name=snapshot)

    def _send_sampler_save(
        self,
        name: str,
        ttl_seconds: int | None,
        checkpoint_type: SamplerCheckpointType | str | None,
        export_precision: str | None,
        metadata: Any,
    ) -> tuple[str, TrainerFuture[tinker.types.SaveWeightsForSamplerResponse]]:
        """Check, type and send a sampler save; the suffixed name and its future.

        The save enters the snapshot log (as the latest base, or a delta on it) only once
        the op is queued: a save refused before sending leaves no base behind.
        """
        logical = check_checkpoint_name(name)
        snapshot = check_checkpoint_name(f"{logical}-{self._session_id}")
        fields: dict[str, Any] = {"path": snapshot}
        ttl = wire.check_ttl(ttl_seconds)
        if ttl is not None:
            fields["ttl_seconds"] = ttl
        if metadata is not None:
            fields["metadata"] = _metadata_json(metadata)
        kind = self._sampler_type(checkpoint_type)  # weight sync: may read the deployment
        fields["checkpoint_type"] = kind.value
        precision = wire.export_precision(kind.value, export_precision)
        if precision is not None:
            fields["export_precision"] = precision
        if logical in self._sampler_names:
            warnings.warn(
                f"sampler checkpoint {logical!r} was already saved by this client; "
                f"saving it again overwrites {snapshot!r}",
                UserWarning,
                stacklevel=3,
            )
        log = self._sampler_snapshot_log()
        undo = log.plan(snapshot, kind)
        try:
            future = self._ops.enqueue(
                "save_weights_for_sampler",
                fields,
                lambda body, _: self._sampler_saved(body, snapshot),
            )
        except BaseException:
            undo()
            raise
        self._sampler_names.add(logical)
        return snapshot, future

    def _sampler_saved(
        self, body: dict[str, Any], snapshot: str
    ) -> tinker.types.SaveWeightsForSamplerResponse:
        path = body.get("path")
        self._has_saved_sampler = True
        self._record_sampler_save(snapshot, path if isinstance(path, str) and path else None)
        return tinker.types.SaveWeightsForSamplerResponse(
            path=path if isinstance(path, str) and path else snapshot
        )

    def save_weights_external(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: exports outside Fireworks storage."""
        unsupported(
            "save_weights_external",
            "save_weights_for_sampler(name), then FireworksClient.promote_checkpoint(...)",
        )

    async def save_weights_external_async(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: exports outside Fireworks storage."""
        unsupported(
            "save_weights_external_async",
            "save_weights_for_sampler(name), then FireworksClient.promote_checkpoint(...)",
        )

    # tinker returns a future that also acts as a client; this returns the client itself.
    def save_weights_and_get_sampling_client(  # type: ignore[override]
        self, name: str | None = None, retry_config: Any = None, **kwargs: Any
    ) -> FiretitanSamplingClient:
        """Save sampler weights (``name``, else a fresh one) and sample from them.

        The snapshot is hot-loaded onto the service client's deployment (``attach_deployment``
        first) and the sampling client is pinned to it.
        """
        if kwargs.get("kind", "snapshot") != "snapshot":
            unsupported(
                f"save_weights_and_get_sampling_client(kind={kwargs['kind']!r})",
                "drop kind (a sampler snapshot is hot-loaded onto the attached deployment)",
            )
        self._sampler_owner()  # before the save: without a deployment nothing is sent
        saved = self.save_weights_for_sampler(name or f"sampler-{secrets.token_hex(4)}").result()
        return self.create_sampling_client(saved.path, retry_config)

    async def save_weights_and_get_sampling_client_async(  # type: ignore[override]
        self, name: str | None = None, retry_config: Any = None, **kwargs: Any
    ) -> FiretitanSamplingClient:
        """:meth:`save_weights_and_get_sampling_client` from async code (on a thread)."""
        return await asyncio.to_thread(
            self.save_weights_and_get_sampling_client, name, retry_config, **kwargs
        )

    # Returns the sampling client itself, as the official SDK does; tinker returns a future
    # that also acts as a client, and its 4th argument differs (record_stability_info).
    def create_sampling_client(  # type: ignore[override]
        self, model_path: str, retry_config: Any = None
    ) -> FiretitanSamplingClient:
        """Hot-load ``model_path`` onto the service client's deployment; a client pinned to it.

        Needs ``attach_deployment`` on the service client first (docs/weight-sync.md).
        """
        del retry_config  # sampling retries are the sampler's own (docs/weight-sync.md)
        return self._sampler_owner().create_sampling_client(model_path=model_path)

    def _sampler_owner(self) -> FiretitanServiceClient:
        """The service client whose deployment this client's snapshots are hot-loaded onto."""
        owner = self._owner
        if owner is None or owner.deployment_id is None:
            raise WeightSyncError(
                "no deployment to sample from: call attach_deployment(deployment_id) on the "
                "service client first",
                category="no_deployment",
            )
        return owner

    create_sampling_client_async = AsyncTwin(  # type: ignore[assignment]
        create_sampling_client, in_thread=True
    )

    # Information and references ------------------------------------------------------------

    def get_info(self) -> tinker.types.GetInfoResponse:
        """What this client knows of its model (no request, as tinker's cached info)."""
        return tinker.types.GetInfoResponse(
            model_id=self._model_id,
            model_data=tinker.types.ModelData(model_name=self._base_model),
            is_lora=self._lora_rank > 0,
            lora_rank=self._lora_rank or None,
            model_name=self._base_model,
        )

    get_info_async = AsyncTwin(get_info, in_thread=False)

    def get_tokenizer(self) -> NoReturn:
        """Not supported: the trainer names no tokenizer; load it with ``transformers``."""
        unsupported(
            "get_tokenizer",
            "load the base model's tokenizer with transformers.AutoTokenizer.from_pretrained",
        )

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

    def _sampler_type(
        self, checkpoint_type: SamplerCheckpointType | str | None
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
        return kind

    def _record_sampler_save(self, snapshot: str, path: str | None) -> None:
        self._sampler_snapshot_log().saved(snapshot, path)

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


def new_session_id() -> str:
    """A new client session id: 8 lowercase hex characters."""
    return secrets.token_hex(4)


def _input(
    data: Sequence[Any], loss_fn: str, loss_fn_config: Mapping[str, Any] | None, op: str
) -> dict[str, Any]:
    if not isinstance(loss_fn, str) or not loss_fn:
        raise InvalidArgumentError(f"loss_fn must be a non-empty string, got {loss_fn!r}")
    if isinstance(data, str | bytes | Mapping) or not data:
        raise InvalidArgumentError(f"{op} needs at least one datum")
    body: dict[str, Any] = {"data": [wire.datum_json(d) for d in data], "loss_fn": loss_fn}
    if loss_fn_config is not None:
        if not isinstance(loss_fn_config, Mapping) or not all(
            isinstance(k, str) for k in loss_fn_config
        ):
            raise InvalidArgumentError("loss_fn_config must be a dict with string keys")
        body["loss_fn_config"] = dict(loss_fn_config)
    return body


def _metadata_json(metadata: Any) -> dict[str, Any]:
    if hasattr(metadata, "model_dump"):
        dumped: dict[str, Any] = metadata.model_dump(mode="json", exclude_none=True)
        return dumped
    if isinstance(metadata, Mapping):
        return dict(metadata)
    raise InvalidArgumentError(f"metadata must be a dict, got {type(metadata).__name__}")
