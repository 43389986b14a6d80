"""Save, load, list and promote Fireworks training checkpoints from your own training loop."""

from ._version import __version__
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
from .checkpoints.workflow import ResumeInfo, TrainingCheckpoints
from .clients.fireworks import AsyncFireworksClient, FireworksClient
from .clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from .operations import AsyncOperation, Operation
from .pagination import AsyncPager, Page, SyncPager

__all__ = [
    "AsyncFireworksClient",
    "AsyncOperation",
    "AsyncPager",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointName",
    "CheckpointType",
    "FiretitanServiceClient",
    "FiretitanTrainingClient",
    "FireworksClient",
    "LedgerWarning",
    "Model",
    "ModelName",
    "Operation",
    "Page",
    "ResumeInfo",
    "SamplerCheckpointType",
    "SaveSamplerResult",
    "SyncPager",
    "TrainerJobName",
    "TrainingCheckpoints",
    "__version__",
    "is_promotable",
    "latest_promotable",
    "validate_output_model_id",
]
