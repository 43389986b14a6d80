"""PeriodicWeightSync: put the trainer's weights on a deployment every N steps.

The companion of :class:`~.workflow.TrainingCheckpoints` for the third job of checkpoints,
sampler refresh. The first sync saves a **base** (promotable: ``promote_latest`` finds it);
later syncs let the syncer choose, which on a full-parameter run means a delta while the
deployment's chain allows one (LoRA always saves the adapter whole). It reaches the services
through the :class:`WeightSync` Protocol (``WeightSyncer`` is one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..errors import InvalidArgumentError
from .kinds import SamplerCheckpointType
from .names import check_checkpoint_name

__all__ = ["PeriodicWeightSync", "SyncRecord", "WeightSync"]


class WeightSync(Protocol):
    """What the schedule needs: save sampler weights as ``name`` and hot-load them."""

    def save_and_hotload(self, name: str, checkpoint_type: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class SyncRecord:
    """One sync: the step, the snapshot the deployment now serves, the type asked for."""

    step: int
    identity: str | None
    requested: str | None  # "base" for the first sync; None: the syncer chose


@dataclass
class PeriodicWeightSync:
    """Syncs every ``every`` steps (0: never) under the name ``name_format.format(step=N)``."""

    syncer: WeightSync
    every: int
    name_format: str = "step-{step}"
    history: list[SyncRecord] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 0:
            raise InvalidArgumentError(f"every must be an int >= 0, got {self.every!r}")
        check_checkpoint_name(self._name(0))

    def _name(self, step: int) -> str:
        try:
            return self.name_format.format(step=step)
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidArgumentError(f"invalid name_format {self.name_format!r}: {exc}") from None

    def maybe_sync(self, step: int) -> SyncRecord | None:
        """Sync at every ``every``-th step (not at step 0); None when this step is not one."""
        if self.every == 0 or step <= 0 or step % self.every:
            return None
        return self.sync(step)

    def sync(self, step: int) -> SyncRecord:
        """Save and hot-load now: a base the first time, the syncer's choice after."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidArgumentError(f"step must be an int >= 0, got {step!r}")
        name = check_checkpoint_name(self._name(step))
        requested = None if self.history else SamplerCheckpointType.BASE.value
        identity = self.syncer.save_and_hotload(name, checkpoint_type=requested)
        record = SyncRecord(step, identity, requested)
        self.history.append(record)
        return record
