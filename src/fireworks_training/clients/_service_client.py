"""``FiretitanServiceClient``: a trainer endpoint, with tinker's ``ServiceClient`` surface.

It creates training clients (a session first, once), keeps the session alive, and reaches
the trainer job's control plane with the same key: ``list_checkpoints(job_id)``,
``promote_checkpoint`` and ``get_model`` make it the control-plane client the workflow and
the cookbook recipes expect. It *is a* ``tinker.ServiceClient`` without using tinker's code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import tinker

from .._closing import Closing
from .._constants import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, HEARTBEAT_INTERVAL_S
from .._retry import PollTuning, RetryPolicy
from ..checkpoints.names import check_load_reference
from ..errors import (
    APIError,
    ClientClosedError,
    FireworksError,
    InvalidArgumentError,
    WeightSyncError,
)
from . import _trainer_wire as wire
from ._trainer_control import is_serverless, job_training_config, locate
from ._trainer_engine import connect
from ._trainer_twins import AsyncTwin
from ._training_client import FiretitanTrainingClient, NoTinkerConsole, unsupported

if TYPE_CHECKING:
    from ..checkpoints.types import Checkpoint, Model
    from ._deployment_rules import DeploymentInfo
    from ._sync.fireworks import FireworksClient
    from ._weight_sync_rules import SnapshotLog
    from .deployment_sampler import DeploymentSampler
    from .deployments import DeploymentManager
    from .sampler_backend import SamplerBackend
    from .sampling import FiretitanSamplingClient

__all__ = ["FiretitanServiceClient"]

_log = logging.getLogger("fireworks_training.trainer")
_TINKER_BASE_URL_ENV = "TINKER_BASE_URL"
_CREATE_JOB = (
    "create the job with TrainerJobManager(...).create_and_wait(config) and pass its "
    "base_url to FiretitanServiceClient(base_url=..., api_key=...)"
)
_REFUSED_KWARGS = {
    "display_name": (
        "FiretitanServiceClient(display_name=...) (the trainer protocol has none)",
        "drop display_name; name the trainer job with TrainerJobConfig(display_name=...)",
    ),
    "managed_config": (
        "managed provisioning (FiretitanServiceClient.from_firetitan_config)",
        _CREATE_JOB,
    ),
}


class FiretitanServiceClient(Closing, NoTinkerConsole, tinker.ServiceClient):
    """A trainer endpoint: creates training clients and keeps the session alive.

    ``FiretitanServiceClient(base_url=url, api_key=key)`` as the official SDK writes it, or
    ``FiretitanServiceClient(url, key)``. A dict as the first argument is read as
    ``user_metadata`` (the official client's first positional argument). The key comes
    from ``api_key`` or ``FIREWORKS_API_KEY``; the URL from ``base_url`` or
    ``TINKER_BASE_URL``.

    ``create_lora_training_client``, ``create_training_client_from_state``,
    ``create_training_client_from_state_with_optimizer`` and ``get_server_capabilities`` each
    have an ``_async`` twin with the same parameters that runs them on a worker thread.
    """

    def __init__(
        self,
        base_url: str | Mapping[str, str] | None = None,
        api_key: str | None = None,
        *,
        user_metadata: Mapping[str, str] | None = None,
        project_id: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_headers_overrides: Mapping[str, str] | None = None,
        additional_headers: Mapping[str, str] | None = None,
        control_plane_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        heartbeat_interval_s: float | None = HEARTBEAT_INTERVAL_S,
        poll_tuning: PollTuning | None = None,
        **unknown: Any,
    ) -> None:
        if isinstance(base_url, Mapping):  # the official/tinker form: user_metadata first
            if user_metadata is not None:
                raise InvalidArgumentError("user_metadata given twice (first argument and keyword)")
            base_url, user_metadata = None, base_url
        _refuse(project_id, unknown)
        url = base_url or os.environ.get(_TINKER_BASE_URL_ENV)
        if not url:
            raise InvalidArgumentError(
                f"base_url (the trainer URL) is required, or set {_TINKER_BASE_URL_ENV}"
            )
        if is_serverless(url):
            unsupported("serverless training (a .../training/v1/serverless base_url)", _CREATE_JOB)
        headers = {
            **(default_headers or {}),
            **(default_headers_overrides or {}),
            **(additional_headers or {}),
        }
        self._user_metadata = wire.check_user_metadata(user_metadata)
        self._conn = connect(url, api_key, timeout, max_retries, retry_policy, headers, poll_tuning)
        self._location = locate(self._conn.base_url, control_plane_url)
        self._control: FireworksClient | None = None
        self._heartbeat_interval_s = heartbeat_interval_s
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._model_count = 0
        self._clients: list[FiretitanTrainingClient] = []
        self._heartbeat: concurrent.futures.Future[None] | None = None
        self._closed = False

    @classmethod
    def from_firetitan_config(cls, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: provision with ``TrainerJobManager`` and pass its trainer URL."""
        unsupported("managed provisioning (from_firetitan_config)", _CREATE_JOB)

    @property
    def base_url(self) -> str:
        """The trainer base URL."""
        return self._conn.base_url

    @property
    def server_session_id(self) -> str | None:
        """The trainer session (from ``create_session``), once a training client exists."""
        return self._session_id

    @property
    def control_plane_url(self) -> str:
        """Where ``list_checkpoints``, ``promote_checkpoint`` and ``get_model`` go."""
        return self._location.control_url

    @property
    def trainer_job_id(self) -> str:
        """The trainer job id the trainer URL names; an error for another URL."""
        if self._location.job_id is None:
            raise FireworksError(f"the trainer URL {self.base_url!r} names no trainer job")
        return self._location.job_id

    @property
    def holder(self) -> NoReturn:
        """This client has no tinker session holder."""
        raise AttributeError("FiretitanServiceClient has no tinker holder")

    def __repr__(self) -> str:
        return f"FiretitanServiceClient(base_url={self.base_url!r})"

    # Training clients --------------------------------------------------------------------------

    def create_training_client(
        self,
        base_model: str | None = None,
        lora_rank: int = 0,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        lora_alpha: int | None = wire.DEFAULT_LORA_ALPHA,
        user_metadata: Mapping[str, str] | None = None,
        projection_head_dim: int | None = None,
        lora_init_method: str | None = None,
    ) -> FiretitanTrainingClient:
        """Create a model on the trainer (a session first, once) and a client for it.

        ``lora_rank=0`` trains every parameter; a LoRA rank sends ``lora_alpha`` (32 unless
        given; ``None`` lets the trainer choose 2 x rank).
        """
        model = _check_base_model(base_model)
        rank = wire.check_lora_rank(lora_rank)
        config = wire.lora_config_json(
            rank,
            alpha=lora_alpha,
            seed=seed,
            train_mlp=train_mlp,
            train_attn=train_attn,
            train_unembed=train_unembed,
            init_method=lora_init_method,
        )
        head = _projection_head_dim(projection_head_dim)
        return self._create(model, rank, config, user_metadata, head)

    def create_lora_training_client(  # type: ignore[override]
        self,
        base_model: str,
        rank: int = 32,
        seed: int | None = None,
        train_mlp: bool = True,
        train_attn: bool = True,
        train_unembed: bool = True,
        alpha: int | None = wire.DEFAULT_LORA_ALPHA,
        user_metadata: Mapping[str, str] | None = None,
        projection_head_dim: int | None = None,
        init_method: str | None = None,
        *,
        optimizer: Any = None,
    ) -> FiretitanTrainingClient:
        """tinker's name for a LoRA training client (rank 32 unless given); not a future."""
        if optimizer is not None:
            unsupported(
                "create_lora_training_client(optimizer=...) (the trainer runs Adam)",
                "drop optimizer and pass tinker.AdamParams to optim_step",
            )
        return self.create_training_client(
            base_model,
            lora_rank=rank,
            seed=seed,
            train_mlp=train_mlp,
            train_attn=train_attn,
            train_unembed=train_unembed,
            lora_alpha=alpha,
            user_metadata=user_metadata,
            projection_head_dim=projection_head_dim,
            lora_init_method=init_method,
        )

    create_lora_training_client_async = AsyncTwin(  # type: ignore[assignment]
        create_lora_training_client, in_thread=True
    )

    def create_base_training_client(
        self, base_model: str, user_metadata: Mapping[str, str] | None = None
    ) -> FiretitanTrainingClient:
        """A frozen copy of the base model on this trainer (reference logprobs, ``forward``)."""
        return self._create(_check_base_model(base_model), 0, None, user_metadata, None)

    def create_reference_client(
        self,
        base_model: str | None = None,
        *,
        lora_rank: int | None = None,
        policy_client: FiretitanTrainingClient | None = None,
        user_metadata: Mapping[str, str] | None = None,
    ) -> FiretitanTrainingClient:
        """The reference (base-only) client of a policy: the policy's base model unless given."""
        if base_model is None and policy_client is not None:
            base_model = policy_client.base_model
        if base_model is None:
            raise InvalidArgumentError(
                "create_reference_client needs base_model= or policy_client="
            )
        return self.create_base_training_client(base_model, user_metadata)

    def create_training_client_from_state(  # type: ignore[override]
        self,
        path: str,
        user_metadata: Mapping[str, str] | None = None,
        weights_access_token: str | None = None,
        projection_head_dim: int | None = None,
        *,
        base_model: str | None = None,
        lora_rank: int | None = None,
    ) -> FiretitanTrainingClient:
        """A new model loaded from a state checkpoint's weights (the optimizer starts fresh).

        The base model and LoRA rank are the trainer job's (read from the control plane)
        unless given as ``base_model=`` / ``lora_rank=``.
        """
        return self._from_state(
            path,
            user_metadata,
            weights_access_token,
            projection_head_dim,
            base_model,
            lora_rank,
            False,
        )

    create_training_client_from_state_async = AsyncTwin(  # type: ignore[assignment]
        create_training_client_from_state, in_thread=True
    )

    def create_training_client_from_state_with_optimizer(  # type: ignore[override]
        self,
        path: str,
        user_metadata: Mapping[str, str] | None = None,
        weights_access_token: str | None = None,
        projection_head_dim: int | None = None,
        *,
        base_model: str | None = None,
        lora_rank: int | None = None,
    ) -> FiretitanTrainingClient:
        """A new model loaded from a state checkpoint, optimizer state included (resume)."""
        return self._from_state(
            path,
            user_metadata,
            weights_access_token,
            projection_head_dim,
            base_model,
            lora_rank,
            True,
        )

    create_training_client_from_state_with_optimizer_async = AsyncTwin(  # type: ignore[assignment]
        create_training_client_from_state_with_optimizer, in_thread=True
    )

    def _from_state(
        self,
        path: str,
        user_metadata: Mapping[str, str] | None,
        weights_access_token: str | None,
        projection_head_dim: int | None,
        base_model: str | None,
        lora_rank: int | None,
        optimizer: bool,
    ) -> FiretitanTrainingClient:
        if weights_access_token is not None:
            unsupported(
                "create_training_client_from_state(weights_access_token=...)",
                "drop weights_access_token; the trainer reads checkpoints with your API key",
            )
        if isinstance(user_metadata, str):
            raise InvalidArgumentError(
                "pass base_model= as a keyword (the second argument is user_metadata)"
            )
        reference = check_load_reference(path)
        model, rank = self._job_model(base_model, lora_rank)
        client = self.create_training_client(
            model, rank, user_metadata=user_metadata, projection_head_dim=projection_head_dim
        )
        load = client.load_state_with_optimizer if optimizer else client.load_state
        try:
            load(reference).result()
        except BaseException:
            client.close()
            raise
        return client

    def _job_model(self, base_model: str | None, lora_rank: int | None) -> tuple[str, int]:
        """The base model and rank given, else the trainer job's (from the control plane)."""
        if lora_rank is not None:
            wire.check_lora_rank(lora_rank)
        if base_model is not None and lora_rank is not None:
            return _check_base_model(base_model), lora_rank
        job_model, job_rank = self._read_job_config()
        model = base_model if base_model is not None else job_model
        if model is None:
            raise InvalidArgumentError(
                "the trainer job's base model is unknown here: pass base_model= (and lora_rank=)"
            )
        rank = lora_rank if lora_rank is not None else (job_rank or 0)
        return _check_base_model(model), rank

    def _read_job_config(self) -> tuple[str | None, int | None]:
        location = self._location
        if location.account_id is None or location.job_id is None:
            return None, None
        path = f"/v1/accounts/{location.account_id}/rlorTrainerJobs/{location.job_id}"
        job = self._conn.runner.run(self._conn.api.get(path, base_url=location.control_url))
        return job_training_config(job)

    def _create(
        self,
        base_model: str,
        rank: int,
        lora_config: dict[str, Any] | None,
        user_metadata: Mapping[str, str] | None,
        projection_head_dim: int | None,
    ) -> FiretitanTrainingClient:
        metadata = wire.check_user_metadata(user_metadata)
        if metadata is None:
            metadata = self._user_metadata
        with self._lock:
            if self._closed:
                raise ClientClosedError("the service client is closed")
            model_id = self._conn.runner.run(
                self._create_model(base_model, lora_config, metadata, projection_head_dim)
            )
            client = FiretitanTrainingClient._attach(self._conn, model_id, rank, self, base_model)
            self._clients.append(client)
            self._start_heartbeat()
        return client

    async def _create_model(
        self,
        base_model: str,
        lora_config: dict[str, Any] | None,
        user_metadata: Mapping[str, str] | None,
        projection_head_dim: int | None,
    ) -> str:
        api = self._conn.api
        if self._session_id is None:
            reply = await api.create_session(self._user_metadata)
            self._session_id = str(reply["session_id"])
            for level, key in (
                (logging.INFO, "info_message"),
                (logging.WARNING, "warning_message"),
            ):
                if reply.get(key):
                    _log.log(level, "trainer session: %s", reply[key])
        body = wire.create_model_body(
            self._session_id,
            self._model_count,
            base_model,
            lora_config=lora_config,
            user_metadata=user_metadata,
            projection_head_dim=projection_head_dim,
        )
        request_id, roundtrip_s = await api.submit("create_model", body)
        self._model_count += 1  # taken once submitted, whatever the result
        return await api.created_model(request_id, roundtrip_s)

    def release_references(self) -> None:
        """Nothing to release: this client provisions no separate reference trainers."""

    # The control plane ---------------------------------------------------------------------------

    def _control_client(self) -> FireworksClient:
        with self._lock:
            if self._closed:
                raise ClientClosedError("the service client is closed")
            if self._control is None:
                from ._sync.fireworks import FireworksClient

                self._control = FireworksClient(
                    self._conn.api._api_key,
                    self._location.control_url,
                    account_id=self._location.account_id,
                )
            return self._control

    def list_checkpoints(self, job_id: str, *, page_size: int = 200) -> list[Checkpoint]:
        """The job's checkpoint rows on the control plane, oldest first (every page)."""
        return self._control_client().list_checkpoints(job_id, page_size=page_size)

    def promote_checkpoint(self, *args: Any, **kwargs: Any) -> Model:
        """Promote a checkpoint; the arguments of ``FireworksClient.promote_checkpoint``."""
        return self._control_client().promote_checkpoint(*args, **kwargs)

    def get_model(self, model_id: str) -> Model:
        """A model on the control plane."""
        return self._control_client().get_model(model_id)

    # Server, sampling, sessions --------------------------------------------------------------

    def get_server_capabilities(self) -> tinker.types.GetServerCapabilitiesResponse:
        """What the trainer serves (``GET /api/v1/get_server_capabilities``)."""
        reply = self._conn.runner.run(self._conn.api.get("/api/v1/get_server_capabilities"))
        return tinker.types.GetServerCapabilitiesResponse.model_validate(reply)

    get_server_capabilities_async = AsyncTwin(get_server_capabilities, in_thread=True)

    def create_rest_client(self) -> NoReturn:
        """Not supported: tinker's REST API (use ``list_checkpoints`` / the control plane)."""
        unsupported(
            "create_rest_client (tinker's REST API)",
            "list checkpoints with FireworksClient(...).list_checkpoints(job_id) and read the "
            "job (its base model) with TrainerJobManager(...).get(job_id)",
        )

    def copy_weights(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: copying weights between tinker projects."""
        unsupported(
            "copy_weights", "promote the checkpoint with FireworksClient.promote_checkpoint"
        )

    def create_custom_loss(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: server-side custom losses (use ``forward_backward_custom``)."""
        unsupported(
            "create_custom_loss (server-side losses)",
            "compute the loss locally with forward_backward_custom(data, loss_fn)",
        )

    # Heartbeat and lifetime -------------------------------------------------------------------

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

    def close(self, status: str | None = None, detail: str | None = None) -> None:  # type: ignore[override]
        """Close every training client made here, stop the heartbeat, release the pools.

        Idempotent. tinker's ``status``/``detail`` are accepted and ignored (the trainer
        protocol has no session-finish request).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients = list(self._clients)
            control, self._control = self._control, None
        for client in clients:
            client.close()
        self._stop_heartbeat()
        self._detach_deployment()  # weight sync
        self._conn.close()
        if control is not None:
            control.close()

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

    # Returns the sampling client itself, as the official SDK does; tinker returns a future
    # that also acts as a client, and its 4th argument differs (record_stability_info).
    def create_sampling_client(  # type: ignore[override]
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

    async def create_sampling_client_async(  # type: ignore[override]
        self,
        model_path: str | None = None,
        base_model: str | None = None,
        retry_config: Any = None,
        deployment_sampler: DeploymentSampler | None = None,
        *,
        training_client: FiretitanTrainingClient | None = None,
    ) -> FiretitanSamplingClient:
        """:meth:`create_sampling_client` from async code (the hot-load runs on a thread)."""
        return await asyncio.to_thread(
            self.create_sampling_client,
            model_path,
            base_model,
            retry_config,
            deployment_sampler,
            training_client=training_client,
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


def _refuse(project_id: str | None, unknown: dict[str, Any]) -> None:
    if project_id is not None:
        unsupported(
            "FiretitanServiceClient(project_id=...) (Fireworks has no tinker projects)",
            "drop project_id",
        )
    for name in unknown:
        if name in _REFUSED_KWARGS:
            unsupported(*_REFUSED_KWARGS[name])
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"FiretitanServiceClient() got unexpected keyword arguments: {names}")


def _check_base_model(base_model: object) -> str:
    if not isinstance(base_model, str) or not base_model.strip():
        raise InvalidArgumentError(f"base_model must be a non-empty string, got {base_model!r}")
    return base_model.strip()


def _projection_head_dim(value: object) -> int | None:
    if value is None or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(f"projection_head_dim must be an integer >= 0, got {value!r}")
    return value
