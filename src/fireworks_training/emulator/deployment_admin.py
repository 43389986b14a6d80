"""The ``Emulator``'s deployment controls: set a deployment up, look inside, inject faults."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .backend import Backend
from .model import DEFAULT_BASE_MODEL
from .names import job_name, parse_name

__all__ = ["DeploymentAdmin"]


class DeploymentAdmin:
    """Deployment methods of :class:`~.server.Emulator` (Python API only)."""

    _backend: Backend

    def create_deployment(
        self,
        deployment_id: str | None = None,
        *,
        base_model: str = DEFAULT_BASE_MODEL,
        hot_load_trainer_job: str | None = None,
        replica_count: int = 1,
        enable_hot_load: bool = True,
        transition_type: str | None = None,
    ) -> str:
        """Create a deployment as ``POST deployments`` would; returns its id.

        ``hot_load_trainer_job`` is a job id or its full name (PER_TRAINER attachment).
        """
        deployment_id = deployment_id or f"emu-deploy-{secrets.token_hex(4)}"
        body: dict[str, Any] = {
            "baseModel": base_model,
            "minReplicaCount": replica_count,
            "maxReplicaCount": replica_count,
            "enableHotLoad": enable_hot_load,
            "forTraining": True,
        }
        if hot_load_trainer_job:
            account = self._backend.settings.account_id
            named = parse_name(hot_load_trainer_job, "rlorTrainerJobs") is not None
            body["hotLoadTrainerJob"] = (
                hot_load_trainer_job if named else job_name(account, hot_load_trainer_job)
            )
        if transition_type:
            body["hotLoadTransitionType"] = transition_type
        self._backend.deployments.create(deployment_id, body, {})
        return deployment_id

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        """The resource, every replica's hot-load status (``replicas``) and ``ledger``."""
        return self._backend.serving.view(deployment_id)

    def deployment_weights(self, deployment_id: str, replica: int = 0) -> NDArray[np.float32]:
        """float32 (256, 256) of the bf16 weights a replica serves now."""
        return self._backend.serving.weights(deployment_id, replica)

    def deployment_ledger(self, deployment_id: str) -> list[dict[str, Any]]:
        """Every hot-load signal, oldest first, with its result per replica."""
        return self._backend.serving.ledger(deployment_id)

    def restart_deployment(
        self, deployment_id: str, seconds: float = 0.0, keep_snapshot: bool = False
    ) -> None:
        """Replicas gone (``replicas: []``) for ``seconds`` of the clock, then back.

        They come back on the base model's weights with ``current`` null, or, with
        ``keep_snapshot``, reloaded with what they served.
        """
        self._backend.serving.restart(deployment_id, seconds, keep_snapshot)

    def set_hotload_seconds(self, seconds: float) -> None:
        """How long a hot-load downloads (emulator clock) before it is served."""
        if seconds < 0:
            raise ValueError("hot-load seconds must not be negative")
        self._backend.settings.hotload_seconds = seconds

    def hold_hotloads(self) -> None:
        """No hot-load finishes (replicas stay ``downloading``) until :meth:`release_hotloads`."""
        self._backend.serving.hold(True)

    def release_hotloads(self) -> None:
        """Let held hot-loads finish (at the next request that reads the deployment)."""
        self._backend.serving.hold(False)

    def fail_next_hotload(
        self, identity: str | None = None, message: str = "injected hot-load failure"
    ) -> None:
        """The next signal (of ``identity``, or any) ends in ``stage: error`` with ``message``."""
        self._backend.serving.fail_next(identity, message)

    def lag_replica(self, deployment_id: str, replica: int, lagging: bool = True) -> None:
        """Replica ``replica`` keeps its old snapshot: its loads never finish until unlagged."""
        self._backend.serving.lag(deployment_id, replica, lagging)

    def set_replica_count(self, deployment_id: str, count: int) -> None:
        """Scale to ``count`` replicas (new ones start on the base weights; 0 empties)."""
        self._backend.deployments.scale(deployment_id, count)

    def set_transition_type(self, deployment_id: str, transition_type: str) -> None:
        """``ASYNC`` or ``SYNC``; a change rolls the pods, as a PATCH would."""
        body = {"hotLoadTransitionType": transition_type}
        _, rolled = self._backend.deployments.update(
            deployment_id, body, "hot_load_transition_type"
        )
        if rolled:
            self._backend.serving.roll(deployment_id)

    def set_legacy_reset_prompt_cache(self, enabled: bool = True) -> None:
        """Act as an older gateway that refuses the ``reset_prompt_cache`` signal field."""
        self._backend.settings.legacy_reset_prompt_cache = enabled
