"""Save, load, list and promote Fireworks training checkpoints from your own training loop."""

from ._version import __version__
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
