"""``WeightSyncer``: save sampler weights and hot-load them, with the official names.

The low-level path (``save_and_hotload``, ``save_only``, ``hotload``, ...) over the same
verified chain the service client uses (docs/protocol.md §4.3). Differences from the
official class, on purpose: the next type is checked against what every replica serves (a
``delta`` only on a verified chain, else a ``base``); a delta that cannot go incremental
after it was saved is replaced by a base of the same weights (``save_and_hotload``) or
refused before anything is sent (``hotload``), never loaded as full weights; and nothing
swallows a failure: ``save_only``, ``hotload`` and ``check_deployment_state`` raise where
the official ones return None or False.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..checkpoints.kinds import SamplerCheckpointType
from ..errors import DeploymentError, InvalidArgumentError, WeightSyncError
from ._sync.weight_sync import DeploymentChain
from ._weight_sync_rules import (
    DEFAULT_DELTA_COMPRESSION,
    Snapshot,
    SnapshotLog,
    parse_checkpoint_type,
    served_by_all,
)
from .deployment_sampler import DeploymentSampler
from .deployments import DeploymentManager
from .sampling import FiretitanSamplingClient, SnapshotPin

__all__ = ["WeightSyncer"]

HOTLOAD_TIMEOUT_S = 600
WARMUP_RETRY_INTERVAL_S = 10.0


@dataclass
class WeightSyncer:
    """Saves sampler weights of ``policy_client`` and hot-loads them onto a deployment.

    Without ``deploy_mgr`` and ``deployment_id`` it only saves. ``base_model`` defaults to
    the deployment's. ``hotload_timeout`` bounds each hot-load in all (readiness, signal,
    retries, every replica).
    """

    policy_client: Any
    deploy_mgr: DeploymentManager | None = None
    deployment_id: str | None = None
    base_model: str = ""
    hotload_timeout: int = HOTLOAD_TIMEOUT_S
    first_checkpoint_type: str = "base"
    compression_format: str = DEFAULT_DELTA_COMPRESSION
    warmup_after_hotload: bool = True
    warmup_max_retries: int = 10
    reset_prompt_cache: bool = True
    lora_rank: int = 0

    base_saved: bool = field(default=False, init=False)
    base_identity: str | None = field(default=None, init=False)
    last_timing: dict[str, float] = field(default_factory=dict, init=False)
    _own_log: SnapshotLog | None = field(default=None, init=False, repr=False)
    _chain: DeploymentChain | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        parse_checkpoint_type(self.first_checkpoint_type)
        if isinstance(self.lora_rank, bool) or not isinstance(self.lora_rank, int):
            raise InvalidArgumentError(f"lora_rank must be an int, got {self.lora_rank!r}")
        if self.lora_rank < 0:
            raise InvalidArgumentError(f"lora_rank must be >= 0, got {self.lora_rank}")
        if not isinstance(self.hotload_timeout, int | float) or not self.hotload_timeout > 0:
            raise InvalidArgumentError(f"hotload_timeout must be > 0, got {self.hotload_timeout!r}")

    @property
    def _hotload_enabled(self) -> bool:
        return self.deploy_mgr is not None and self.deployment_id is not None

    def _log(self) -> SnapshotLog:
        """The policy client's own record of its saves, or one kept here for another client."""
        recorded: Callable[[], SnapshotLog] | None = getattr(
            self.policy_client, "_sampler_snapshot_log", None
        )
        if recorded is not None:
            return recorded()
        if self._own_log is None:
            self._own_log = SnapshotLog(self.lora_rank)
        return self._own_log

    def _deployment_chain(self) -> DeploymentChain:
        if self._chain is None:
            assert self.deploy_mgr is not None
            assert self.deployment_id is not None
            base_model = self.base_model
            if not base_model:
                info = self.deploy_mgr.get(self.deployment_id)
                if info is None or not info.base_model:
                    raise DeploymentError(
                        f"deployment {self.deployment_id!r} not found (or it names no base model)",
                        deployment_id=self.deployment_id,
                    )
                base_model = self.base_model = info.base_model
            self._chain = DeploymentChain(
                self.deploy_mgr,
                self.deployment_id,
                base_model,
                hotload_timeout_s=self.hotload_timeout,
                compression_format=self.compression_format,
                reset_prompt_cache=self.reset_prompt_cache,
            )
        return self._chain

    def _model(self) -> str:
        return self._deployment_chain().model()

    # Saving -------------------------------------------------------------------------------

    def _next_type(self) -> SamplerCheckpointType:
        log = self._log()
        if self.lora_rank > 0:
            return SamplerCheckpointType.BASE
        if not self.base_saved and log.latest_base is None:
            return parse_checkpoint_type(self.first_checkpoint_type)
        if self._hotload_enabled:
            return self._deployment_chain().next_type(None, lora_rank=0, log=log)
        return SamplerCheckpointType.DELTA

    def _save(self, name: str, kind: SamplerCheckpointType) -> Snapshot:
        started = time.perf_counter()
        saved = self.policy_client.save_weights_for_sampler_ext(name, checkpoint_type=kind.value)
        self.last_timing["save_time_s"] = time.perf_counter() - started
        self.base_saved = True
        log = self._log()
        if log is self._own_log:
            log.plan(saved.snapshot_name, kind)
            return log.saved(saved.snapshot_name, saved.path)
        found = log.find(saved.snapshot_name)
        return found or Snapshot(saved.snapshot_name, kind, self.lora_rank, path=saved.path)

    def save_only(self, name: str, checkpoint_type: str | None = None) -> str | None:
        """Save sampler weights without hot-loading; the snapshot name (raises on failure)."""
        self.last_timing = {}
        kind = parse_checkpoint_type(checkpoint_type) if checkpoint_type else self._next_type()
        return self._save(name, kind).identity

    def save_and_hotload(self, name: str, checkpoint_type: str | None = None) -> str | None:
        """Save sampler weights and hot-load them; the identity the deployment now serves.

        A delta that cannot go incremental (the deployment restarted, or serves something
        else) is replaced by a base of the same weights, saved as ``<name>-base``.
        """
        self.last_timing = {}
        started = time.perf_counter()
        kind = parse_checkpoint_type(checkpoint_type) if checkpoint_type else self._next_type()
        snapshot = self._save(name, kind)
        if self._hotload_enabled:
            snapshot = self._load(
                snapshot, lambda: self._save(f"{name}-base", SamplerCheckpointType.BASE)
            )
        self.last_timing["total_time_s"] = time.perf_counter() - started
        return snapshot.identity

    # Hot-loading --------------------------------------------------------------------------

    def _load(self, snapshot: Snapshot, rebase: Callable[[], Snapshot] | None) -> Snapshot:
        chain = self._deployment_chain()
        started = time.perf_counter()
        served = chain.sync(snapshot, rebase=rebase)
        self.last_timing["hotload_time_s"] = time.perf_counter() - started
        self.base_identity = served.identity
        if self.warmup_after_hotload and self.deploy_mgr is not None:
            started = time.perf_counter()
            ok = self.deploy_mgr.warmup(
                self._model(), self.warmup_max_retries, WARMUP_RETRY_INTERVAL_S
            )
            self.last_timing["warmup_time_s"] = time.perf_counter() - started
            if not ok:
                raise WeightSyncError(
                    f"{served.identity!r} is loaded but {self.deployment_id!r} does not answer "
                    f"completions after {self.warmup_max_retries} tries",
                    category="warmup",
                    identity=served.identity,
                    deployment_id=self.deployment_id,
                )
        return served

    def hotload(self, snapshot_name: str, checkpoint_type: str) -> bool:
        """Hot-load a snapshot saved earlier (``save_only``); True, or a raise.

        False only when no deployment is configured. A delta whose base is not what the
        deployment's chain holds raises :class:`~fireworks_training.errors.SnapshotChainError`
        before anything is sent.
        """
        self.last_timing = {}
        if not self._hotload_enabled:
            return False
        kind = parse_checkpoint_type(checkpoint_type)
        snapshot = self._log().find(snapshot_name) or Snapshot(snapshot_name, kind, self.lora_rank)
        self._load(snapshot, None)
        return True

    def check_deployment_state(self) -> str | None:
        """The snapshot every replica serves (None: none, the base weights, or they differ)."""
        if not self._hotload_enabled:
            return None
        return served_by_all(self._deployment_chain().replicas())

    def reset_delta_chain(self) -> None:
        """Forget the chain: the next save is a base and its load is full (after a re-attach)."""
        self.base_saved = False
        self.base_identity = None
        if self._hotload_enabled:
            self._deployment_chain().reset()

    def wait_for_hotload_ready(self, timeout_s: int = 300, poll_interval_s: float = 5.0) -> None:
        """Wait until a replica reports hot-load status (signalling earlier is unsafe)."""
        if not self._hotload_enabled:
            return
        assert self.deploy_mgr is not None
        assert self.deployment_id is not None
        chain = self._deployment_chain()
        self.deploy_mgr.wait_for_hotload_ready(
            self.deployment_id, chain.base_model, timeout_s, poll_interval_s
        )

    # Sampling -----------------------------------------------------------------------------

    def get_deployment_sampler(self, tokenizer: Any = None) -> DeploymentSampler:
        """A token-level sampler on the deployment (the caller closes it)."""
        if not self._hotload_enabled:
            raise WeightSyncError(
                "no deployment configured (deploy_mgr and deployment_id)",
                category="no_deployment",
            )
        assert self.deploy_mgr is not None
        return DeploymentSampler(
            self.deploy_mgr.inference_url, self._model(), self.deploy_mgr._api_key, tokenizer
        )

    def get_sampling_client(self, tokenizer: Any = None) -> FiretitanSamplingClient:
        """A sampling client, pinned to the snapshot last hot-loaded here (if any)."""
        sampler = self.get_deployment_sampler(tokenizer)
        chain = self._deployment_chain()
        pin = None
        if self.base_identity is not None:
            assert self.deployment_id is not None
            pin = SnapshotPin(self.base_identity, self.deployment_id, chain.state(), chain.replicas)
        return FiretitanSamplingClient(sampler, pin=pin, base_model=chain.base_model)
