"""Save, load, list and promote Fireworks training checkpoints from your own training loop."""

from .checkpoints import (
    Checkpoint,
    CheckpointKind,
    CheckpointName,
    CheckpointType,
    Model,
    SamplerCheckpointType,
    SaveSamplerResult,
    is_promotable,
    validate_output_model_id,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "Checkpoint",
    "CheckpointKind",
    "CheckpointName",
    "CheckpointType",
    "Model",
    "SamplerCheckpointType",
    "SaveSamplerResult",
    "__version__",
    "is_promotable",
    "validate_output_model_id",
]
