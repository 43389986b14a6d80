"""The checkpoint domain: kinds, names, rows and models, the ledger and the workflow.

Nothing in here speaks HTTP; the workflow reaches the services through Protocols.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from .kinds import (
    CheckpointKind,
    CheckpointType,
    SamplerCheckpointType,
    is_promotable,
)
from .names import (
    CheckpointName,
    InitFromCheckpoint,
    ModelName,
    OperationName,
    TrainerJobName,
    check_checkpoint_name,
    check_load_reference,
    cross_job_reference,
    logical_name,
    parse_init_from_checkpoint,
    require_output_model_id,
    step_of,
    validate_output_model_id,
)
from .types import (
    Checkpoint,
    JobState,
    Model,
    PeftDetails,
    SaveSamplerResult,
    TrainerJob,
    TrainingConfig,
    latest_promotable,
    newest_first,
)

__all__ = [
    "Checkpoint",
    "CheckpointKind",
    "CheckpointName",
    "CheckpointType",
    "InitFromCheckpoint",
    "JobState",
    "Model",
    "ModelName",
    "OperationName",
    "PeftDetails",
    "SamplerCheckpointType",
    "SaveSamplerResult",
    "TrainerJob",
    "TrainerJobName",
    "TrainingConfig",
    "check_checkpoint_name",
    "check_load_reference",
    "cross_job_reference",
    "is_promotable",
    "latest_promotable",
    "logical_name",
    "newest_first",
    "parse_init_from_checkpoint",
    "require_output_model_id",
    "step_of",
    "validate_output_model_id",
]

# Names this package exported before 0.1.0 that are not part of the domain, or were renamed:
# name -> (module it is read from, its name there, where to import it from now).
_MOVED: dict[str, tuple[str, str, str]] = {
    "OperationStatus": (
        "fireworks_training.checkpoints.types",
        "OperationStatus",
        "fireworks_training.operations.OperationStatus",
    ),
    "RpcStatus": (
        "fireworks_training.checkpoints.types",
        "RpcStatus",
        "fireworks_training.operations.RpcStatus",
    ),
    "choose_sampler_type": (
        "fireworks_training.checkpoints.kinds",
        "choose_sampler_type",
        "fireworks_training.checkpoints.kinds.choose_sampler_type",
    ),
    "validate_checkpoint_name": (
        "fireworks_training.checkpoints.names",
        "check_checkpoint_name",
        "fireworks_training.checkpoints.check_checkpoint_name",
    ),
    "validate_load_reference": (
        "fireworks_training.checkpoints.names",
        "check_load_reference",
        "fireworks_training.checkpoints.check_load_reference",
    ),
}


def __getattr__(name: str) -> Any:
    moved = _MOVED.get(name)
    if moved is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute, replacement = moved
    warnings.warn(
        f"fireworks_training.checkpoints.{name} is deprecated and will be removed in 1.0; "
        f"use {replacement}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), attribute)
