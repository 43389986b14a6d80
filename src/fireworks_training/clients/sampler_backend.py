"""``SamplerBackend``: the deployment a service client samples from, and its chain.

A service client owns at most one (``FiretitanServiceClient.attach_deployment``). It
decides the type of its training clients' sampler saves against what the deployment serves
(a ``delta`` only on a verified chain), hot-loads a saved snapshot by the path or name the
caller has (docs/protocol.md §4.3), and makes sampling clients pinned to what it loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._constants import JOB_READY_TIMEOUT_S
from ..checkpoints.kinds import SamplerCheckpointType
from ..errors import DeploymentError, InvalidArgumentError
from ._deployment_rules import DeploymentInfo
from ._sync.weight_sync import DeploymentChain
from ._weight_sync_rules import Snapshot, SnapshotLog
from .deployment_sampler import DeploymentSampler, SamplingConcurrencyController
from .deployments import DeploymentManager
from .sampling import FiretitanSamplingClient, SnapshotPin

__all__ = ["HOTLOAD_TIMEOUT_S", "SamplerBackend"]

HOTLOAD_TIMEOUT_S = 600.0


class SamplerBackend:
    """One hot-load deployment: its verified chain, hot-loads by path, sampling clients."""

    def __init__(
        self,
        manager: DeploymentManager,
        info: DeploymentInfo,
        *,
        hotload_timeout_s: float = HOTLOAD_TIMEOUT_S,
        owns_manager: bool = False,
    ) -> None:
        if info.enable_hot_load is False:
            raise DeploymentError(
                f"deployment {info.deployment_id!r} has hot load turned off",
                deployment_id=info.deployment_id,
                state=info.state,
            )
        if not info.base_model:
            raise DeploymentError(
                f"deployment {info.deployment_id!r} reports no base model",
                deployment_id=info.deployment_id,
                state=info.state,
            )
        self.manager = manager
        self.info = info
        self.chain = DeploymentChain(
            manager, info.deployment_id, info.base_model, hotload_timeout_s=hotload_timeout_s
        )
        self._owns_manager = owns_manager

    @classmethod
    def attach(
        cls,
        deployment_id: str,
        *,
        manager: DeploymentManager | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        hotload_timeout_s: float = HOTLOAD_TIMEOUT_S,
        ready_timeout_s: float = JOB_READY_TIMEOUT_S,
    ) -> SamplerBackend:
        """The backend of an existing deployment, once it is ready to serve."""
        if not isinstance(deployment_id, str) or not deployment_id.strip():
            raise InvalidArgumentError(
                f"deployment_id must be a non-empty string: {deployment_id!r}"
            )
        owns = manager is None
        manager = manager or DeploymentManager(api_key, base_url)
        try:
            info = manager.wait_for_ready(
                deployment_id, timeout_s=ready_timeout_s, poll_interval_s=5
            )
            return cls(manager, info, hotload_timeout_s=hotload_timeout_s, owns_manager=owns)
        except BaseException:
            if owns:
                manager.close()
            raise

    @property
    def deployment_id(self) -> str:
        """The deployment's id."""
        return self.info.deployment_id

    @property
    def base_model(self) -> str:
        """The base model the deployment serves (and the hot-load API routes by)."""
        assert self.info.base_model is not None
        return self.info.base_model

    def next_type(
        self, explicit: SamplerCheckpointType | str | None, log: SnapshotLog
    ) -> SamplerCheckpointType:
        """The type of a training client's next sampler save (verified when it matters)."""
        return self.chain.next_type(explicit, lora_rank=log.lora_rank, log=log)

    def hotload(self, reference: str, logs: Iterable[SnapshotLog]) -> Snapshot:
        """Make every replica serve the snapshot ``reference`` names; returns it."""
        snapshot = self.chain.describe(reference, list(logs))
        return self.chain.sync(snapshot)

    def deployment_sampler(
        self,
        tokenizer: Any = None,
        concurrency_controller: SamplingConcurrencyController | None = None,
    ) -> DeploymentSampler:
        """A new token-level sampler on the deployment (the caller closes it)."""
        return DeploymentSampler(
            self.manager.inference_url,
            self.chain.model(),
            self.manager._api_key,
            tokenizer,
            concurrency_controller,
        )

    def sampling_client(
        self,
        snapshot: Snapshot | None,
        *,
        tokenizer: Any = None,
        concurrency_controller: SamplingConcurrencyController | None = None,
    ) -> FiretitanSamplingClient:
        """A sampling client on the deployment, pinned to ``snapshot`` when given."""
        pin = None
        if snapshot is not None:
            pin = SnapshotPin(
                snapshot.identity, self.deployment_id, self.chain.state(), self.chain.replicas
            )
        sampler = self.deployment_sampler(tokenizer, concurrency_controller)
        return FiretitanSamplingClient(sampler, pin=pin, base_model=self.base_model)

    def close(self) -> None:
        """Close the deployment manager when this backend made it."""
        if self._owns_manager:
            self.manager.close()
