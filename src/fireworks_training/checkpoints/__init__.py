"""The checkpoint domain: kinds, types, names, rows, the ledger and the workflow.

Nothing in here speaks HTTP; the workflow reaches the services through Protocols.
"""

from .kinds import (
    CheckpointKind,
    CheckpointType,
    SamplerCheckpointType,
    choose_sampler_type,
    is_promotable,
)
from .names import (
    CheckpointName,
    InitFromCheckpoint,
    ModelName,
    TrainerJobName,
    cross_job_reference,
    logical_name,
    parse_init_from_checkpoint,
    require_output_model_id,
    step_of,
    validate_checkpoint_name,
    validate_load_reference,
    validate_output_model_id,
)
from .types import (
    Checkpoint,
    JobState,
    Model,
    OperationStatus,
    PeftDetails,
    RpcStatus,
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
    "OperationStatus",
    "PeftDetails",
    "RpcStatus",
    "SamplerCheckpointType",
    "SaveSamplerResult",
    "TrainerJob",
    "TrainerJobName",
    "TrainingConfig",
    "choose_sampler_type",
    "cross_job_reference",
    "is_promotable",
    "latest_promotable",
    "logical_name",
    "newest_first",
    "parse_init_from_checkpoint",
    "require_output_model_id",
    "step_of",
    "validate_checkpoint_name",
    "validate_load_reference",
    "validate_output_model_id",
]
