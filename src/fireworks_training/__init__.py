"""Save, load, list and promote Fireworks training checkpoints from your own training loop.

Names are imported on first use (PEP 562 ``__getattr__``): ``import fireworks_training``
stays cheap, and the trainer client's dependencies (tinker and what it pulls in) load only
when a trainer name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .checkpoints import (
        Checkpoint,
        CheckpointKind,
        CheckpointName,
        CheckpointType,
        Model,
        ModelName,
        SamplerCheckpointType,
        SaveSamplerResult,
        TrainerJobName,
        is_promotable,
        latest_promotable,
        validate_output_model_id,
    )
    from .checkpoints.ledger import LedgerWarning
    from .checkpoints.types import CheckpointRow, JobState, TrainerJob
    from .checkpoints.weight_sync import PeriodicWeightSync
    from .checkpoints.workflow import ResumeInfo, TrainingCheckpoints
    from .clients._profiles import TrainingShapeProfile
    from .clients.deployment_sampler import DeploymentSampler, SampledCompletion
    from .clients.deployments import (
        DEFAULT_CHECKSUM_FORMAT,
        DEFAULT_DELTA_COMPRESSION,
        AsyncDeploymentManager,
        DeploymentConfig,
        DeploymentInfo,
        DeploymentManager,
    )
    from .clients.fireworks import AsyncFireworksClient, FireworksClient
    from .clients.jobs import (
        AsyncTrainerJobManager,
        CreatedTrainerJob,
        TrainerJobConfig,
        TrainerJobManager,
        TrainerServiceEndpoint,
    )
    from .clients.sampling import FiretitanSamplingClient
    from .clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
    from .clients.weight_syncer import WeightSyncer
    from .errors import ModelDetailsUnavailableError
    from .operations import AsyncOperation, Operation
    from .pagination import AsyncPager, Page, SyncPager
    from .retries import PollTuning, RetryPolicy

__all__ = [
    "AsyncDeploymentManager",
    "AsyncFireworksClient",
    "AsyncOperation",
    "AsyncPager",
    "AsyncTrainerJobManager",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointName",
    "CheckpointRow",
    "CheckpointType",
    "CreatedTrainerJob",
    "DEFAULT_CHECKSUM_FORMAT",
    "DEFAULT_DELTA_COMPRESSION",
    "DeploymentConfig",
    "DeploymentInfo",
    "DeploymentManager",
    "DeploymentSampler",
    "FiretitanSamplingClient",
    "FiretitanServiceClient",
    "FiretitanTrainingClient",
    "FireworksClient",
    "JobState",
    "LedgerWarning",
    "Model",
    "ModelDetailsUnavailableError",
    "ModelName",
    "Operation",
    "Page",
    "PeriodicWeightSync",
    "PollTuning",
    "ResumeInfo",
    "RetryPolicy",
    "SampledCompletion",
    "SamplerCheckpointType",
    "SaveSamplerResult",
    "SyncPager",
    "TrainerJob",
    "TrainerJobConfig",
    "TrainerJobManager",
    "TrainerJobName",
    "TrainerServiceEndpoint",
    "TrainingCheckpoints",
    "TrainingShapeProfile",
    "WeightSyncer",
    "__version__",
    "is_promotable",
    "latest_promotable",
    "validate_output_model_id",
]

# Where each public name lives; keep in step with the TYPE_CHECKING imports above.
_SOURCES: dict[str, str] = {
    "AsyncDeploymentManager": ".clients.deployments",
    "AsyncFireworksClient": ".clients._async.fireworks",
    "AsyncOperation": ".operations",
    "AsyncPager": ".pagination",
    "AsyncTrainerJobManager": ".clients.jobs",
    "Checkpoint": ".checkpoints",
    "CheckpointKind": ".checkpoints",
    "CheckpointName": ".checkpoints",
    "CheckpointRow": ".checkpoints.types",
    "CheckpointType": ".checkpoints",
    "CreatedTrainerJob": ".clients.jobs",
    "DEFAULT_CHECKSUM_FORMAT": ".clients.deployments",
    "DEFAULT_DELTA_COMPRESSION": ".clients.deployments",
    "DeploymentConfig": ".clients.deployments",
    "DeploymentInfo": ".clients.deployments",
    "DeploymentManager": ".clients.deployments",
    "DeploymentSampler": ".clients.deployment_sampler",
    "FiretitanSamplingClient": ".clients.sampling",
    "FiretitanServiceClient": ".clients.trainer",
    "FiretitanTrainingClient": ".clients.trainer",
    "FireworksClient": ".clients._sync.fireworks",  # not the async client: no asyncio
    "JobState": ".checkpoints.types",
    "LedgerWarning": ".checkpoints.ledger",
    "Model": ".checkpoints",
    "ModelDetailsUnavailableError": ".errors",
    "ModelName": ".checkpoints",
    "Operation": ".operations",
    "Page": ".pagination",
    "PeriodicWeightSync": ".checkpoints.weight_sync",
    "PollTuning": ".retries",
    "ResumeInfo": ".checkpoints.workflow",
    "RetryPolicy": ".retries",
    "SampledCompletion": ".clients.deployment_sampler",
    "SamplerCheckpointType": ".checkpoints",
    "SaveSamplerResult": ".checkpoints",
    "SyncPager": ".pagination",
    "TrainerJob": ".checkpoints.types",
    "TrainerJobConfig": ".clients.jobs",
    "TrainerJobManager": ".clients.jobs",
    "TrainerJobName": ".checkpoints",
    "TrainerServiceEndpoint": ".clients.jobs",
    "TrainingCheckpoints": ".checkpoints.workflow",
    "TrainingShapeProfile": ".clients._profiles",
    "WeightSyncer": ".clients.weight_syncer",
    "is_promotable": ".checkpoints",
    "latest_promotable": ".checkpoints",
    "validate_output_model_id": ".checkpoints",
}


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
