"""The verified base/delta chain of one deployment: one sync at a time, nothing assumed.

docs/protocol.md §4.3. Before every load the status of every replica is read: a delta goes
incremental only when its base is the chain root this process loaded and every replica
serves what this process last confirmed; otherwise it is refused before anything is sent
(or, when the caller can, replaced by a fresh base of the same weights). After any failure
the status is read again, so a load that finished after its wait, a restart or a re-attach
is noticed at once. One lock per deployment per process: two syncs never race. The rules
are in ``_weight_sync_rules.py``; the hot-load calls in ``hot_load.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..._constants import LIST_PAGE_SIZE
from ...checkpoints.kinds import SamplerCheckpointType
from ...checkpoints.names import TrainerJobName
from ...errors import APIError, InvalidArgumentError, SnapshotChainError, WeightSyncError
from .._base_client import Request
from .._weight_sync_rules import (
    DEFAULT_DELTA_COMPRESSION,
    ChainState,
    Deadline,
    PlanKind,
    ReplicaStatus,
    Snapshot,
    SnapshotLog,
    chain_state,
    incremental_metadata,
    next_sampler_type,
    plan_load,
    served_by_all,
    snapshot_from_row,
    snapshot_identity,
)
from .deployment_manager import AsyncDeploymentManager
from .hot_load import HotLoadTarget

__all__ = ["AsyncDeploymentChain"]

HOTLOAD_TIMEOUT_S = 600.0
STATUS_READ_TIMEOUT_S = 60.0
# Deciding a save's type must not hold the save up for long: unreadable, it is a base.
TYPE_CHECK_TIMEOUT_S = 10.0


@dataclass
class _Chain:
    """The lock and the known state of one deployment, shared by every client of a process."""

    state: ChainState
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_CHAINS: dict[str, _Chain] = {}


def _chain_for(hotload_api_url: str, deployment: str) -> _Chain:
    key = f"{hotload_api_url}|{deployment}"
    found = _CHAINS.get(key)
    if found is None:
        found = _CHAINS.setdefault(key, _Chain(chain_state(hotload_api_url, deployment)))
    return found


class AsyncDeploymentChain:
    """Puts sampler snapshots on one deployment through a verified base/delta chain.

    ``base_model`` is the deployment's (the hot-load API routes by it). A sync waits at most
    ``hotload_timeout_s`` in all: readiness, signal, retries and the wait for every replica.
    """

    def __init__(
        self,
        manager: AsyncDeploymentManager,
        deployment_id: str,
        base_model: str,
        *,
        hotload_timeout_s: float = HOTLOAD_TIMEOUT_S,
        compression_format: str = DEFAULT_DELTA_COMPRESSION,
        reset_prompt_cache: bool = True,
        poll_interval_s: float = 5.0,
    ) -> None:
        if isinstance(hotload_timeout_s, bool) or not isinstance(hotload_timeout_s, int | float):
            raise InvalidArgumentError(f"hotload_timeout_s must be a number: {hotload_timeout_s!r}")
        if not hotload_timeout_s > 0:
            raise InvalidArgumentError(f"hotload_timeout_s must be > 0, got {hotload_timeout_s}")
        self.manager = manager
        self.deployment_id = deployment_id
        self.base_model = base_model
        self.hotload_timeout_s = float(hotload_timeout_s)
        self.compression_format = compression_format
        self.reset_prompt_cache = reset_prompt_cache
        self.poll_interval_s = poll_interval_s
        self._target: HotLoadTarget | None = None
        self._chain: _Chain | None = None

    async def _resolved(self) -> tuple[HotLoadTarget, _Chain]:
        if self._target is None or self._chain is None:
            target = await self.manager._target(self.deployment_id, self.base_model)
            self._chain = _chain_for(self.manager.hotload_api_url, str(target.deployment))
            self._target = target
        return self._target, self._chain

    async def state(self) -> ChainState:
        """What this process knows the deployment serves (no request after the first)."""
        return (await self._resolved())[1].state

    async def model(self) -> str:
        """The deployment's name, what completions take as ``model``."""
        return str((await self._resolved())[0].deployment)

    async def _observe(
        self, target: HotLoadTarget, chain: _Chain, deadline: Deadline
    ) -> str | None:
        replicas = await self.manager._status(target, deadline)
        served = served_by_all(replicas)
        chain.state.observe(served)
        return served

    async def replicas(self) -> list[ReplicaStatus]:
        """Every replica's status now; what they serve in common is taken into the chain."""
        target, chain = await self._resolved()
        deadline = Deadline(STATUS_READ_TIMEOUT_S, self.manager._clock)
        async with chain.lock:
            replicas = await self.manager._status(target, deadline)
            chain.state.observe(served_by_all(replicas))
        return replicas

    async def next_type(
        self, explicit: SamplerCheckpointType | str | None, *, lora_rank: int, log: SnapshotLog
    ) -> SamplerCheckpointType:
        """The type of a client's next sampler save, checked against what is served now.

        A ``delta`` only when the client's latest base is the chain root this process loaded
        and every replica still serves what it last confirmed; else ``base``.
        """
        if explicit is not None or lora_rank > 0 or log.latest_base is None:
            return next_sampler_type(explicit, lora_rank=lora_rank, log=log, chain=ChainState())
        target, chain = await self._resolved()
        deadline = Deadline(TYPE_CHECK_TIMEOUT_S, self.manager._clock)
        async with chain.lock:
            try:
                await self._observe(target, chain, deadline)
            except WeightSyncError:
                return SamplerCheckpointType.BASE  # cannot check: a base is always safe
            return next_sampler_type(None, lora_rank=lora_rank, log=log, chain=chain.state)

    async def sync(
        self,
        snapshot: Snapshot,
        *,
        timeout_s: float | None = None,
        rebase: Callable[[], Awaitable[Snapshot]] | None = None,
    ) -> Snapshot:
        """Make every replica serve ``snapshot``; returns what they serve.

        A delta that cannot go incremental raises
        :class:`~fireworks_training.errors.SnapshotChainError` before anything is sent,
        unless ``rebase`` is given: then it is called for a base of the same weights, and
        that base is loaded in full (and returned).
        """
        target, chain = await self._resolved()
        deadline = Deadline(timeout_s or self.hotload_timeout_s, self.manager._clock)
        async with chain.lock:
            # A deployment with no replica up yet must not be signalled: wait for one.
            replicas = await self.manager._wait_replicas(target, deadline, self.poll_interval_s)
            served = served_by_all(replicas)
            chain.state.observe(served)
            plan = plan_load(snapshot, chain.state, served)
            if plan.kind is PlanKind.REFUSE:
                if rebase is None:
                    raise SnapshotChainError(
                        plan.reason,
                        category="chain",
                        identity=snapshot.identity,
                        deployment_id=target.deployment.deployment_id,
                    )
                snapshot = await rebase()
                plan = plan_load(snapshot, chain.state, served)
            if plan.kind is PlanKind.ALREADY:
                chain.state.confirm(snapshot)
                return snapshot
            metadata = None
            if plan.kind is PlanKind.INCREMENTAL:
                assert plan.previous is not None
                metadata = incremental_metadata(plan.previous, self.compression_format)
            chain.state.attempted = snapshot
            chain.state.loading = True
            try:
                await self.manager._signal(
                    target,
                    snapshot.identity,
                    metadata,
                    deadline,
                    reset_prompt_cache=self.reset_prompt_cache,
                )
                await self.manager._wait_loaded(
                    target, snapshot.identity, deadline, self.poll_interval_s
                )
            except WeightSyncError:
                if plan.kind is PlanKind.INCREMENTAL:
                    chain.state.chain_broken()  # else every later delta is refused the same way
                await self._reobserve(target, chain)
                raise
            finally:
                chain.state.loading = False
            chain.state.confirm(snapshot)
            return snapshot

    async def _reobserve(self, target: HotLoadTarget, chain: _Chain) -> None:
        """After a failure, what is served now; unknown when even that cannot be read."""
        try:
            await self._observe(target, chain, Deadline(STATUS_READ_TIMEOUT_S, self.manager._clock))
        except (APIError, WeightSyncError):
            chain.state.observe(None)

    async def reset(self) -> None:
        """Forget what this process knows the deployment serves: the next load is full."""
        _, chain = await self._resolved()
        async with chain.lock:
            chain.state.reset()

    async def describe(self, reference: str, logs: Iterable[SnapshotLog] = ()) -> Snapshot:
        """The snapshot a caller's path, snapshot name or 4-segment name stands for.

        One saved by a client whose ``logs`` are given is known; any other is typed from its
        row on the control plane (the trainer job the deployment loads from).
        """
        for log in logs:
            found = log.find(reference.strip()) if isinstance(reference, str) else None
            if found is not None:
                return found
        info = await self.manager.get(self.deployment_id)
        attached = info.hot_load_trainer_job if info is not None else None
        job = TrainerJobName.parse(attached) if attached else None
        identity = snapshot_identity(reference, job)
        for log in logs:
            found = log.find(identity)
            if found is not None:
                return found
        if job is None:
            raise SnapshotChainError(
                f"deployment {self.deployment_id!r} is attached to no trainer job: it cannot "
                f"load {identity!r}",
                category="chain",
                identity=identity,
                deployment_id=self.deployment_id,
            )
        checkpoint_type = await self._row_type(job, identity)
        if checkpoint_type is None:
            raise SnapshotChainError(
                f"no checkpoint {identity!r} in trainer job {job}",
                category="chain",
                identity=identity,
                deployment_id=self.deployment_id,
            )
        return snapshot_from_row(identity, checkpoint_type)

    async def _row_type(self, job: TrainerJobName, checkpoint_id: str) -> str | None:
        """The ``checkpointType`` of one row of ``job``, or None when it has no such row."""
        token: str | None = None
        wanted = f"{job}/checkpoints/{checkpoint_id}"
        while True:
            params: dict[str, str | int] = {"pageSize": LIST_PAGE_SIZE}
            if token:
                params["pageToken"] = token
            body: dict[str, Any] = await self.manager._call(
                Request("GET", f"/v1/{job}/checkpoints", params=params)
            )
            for row in body.get("checkpoints") or body.get("rlorTrainerJobCheckpoints") or []:
                if isinstance(row, dict) and row.get("name") == wanted:
                    return str(row.get("checkpointType") or "")
            next_token = body.get("nextPageToken")
            if not isinstance(next_token, str) or not next_token or next_token == token:
                return None
            token = next_token
