"""The names of the official SDK's ``fireworks.training.sdk.client`` module, from this SDK.

Code that imports ``from fireworks.training.sdk.client import ...`` imports the same names
from ``fireworks_training.client`` (``fireworks-training migrate`` rewrites the imports).
``ServiceClient`` and ``TrainingClient`` are the official module's aliases of the two
clients. docs/migration.md lists what differs by design.
"""

from __future__ import annotations

import secrets

from .checkpoints.names import CROSS_JOB_SCHEME, check_checkpoint_name, cross_job_reference
from .checkpoints.types import SaveSamplerResult
from .clients._trainer_wire import DEFAULT_LORA_ALPHA, DEFAULT_LORA_INIT_METHOD, PROTOCOL_VERSION
from .clients.trainer import (
    FiretitanServiceClient,
    FiretitanTrainingClient,
    GradAccNormalization,
    GradNormMetricsMode,
    LoadAdapterResponse,
)
from .futures import TrainerFuture

__all__ = [
    "CROSS_JOB_CHECKPOINT_REF_PREFIX",
    "DEFAULT_LORA_ALPHA",
    "DEFAULT_LORA_INIT_METHOD",
    "PROTOCOL_CLIENT_VERSION",
    "FiretitanServiceClient",
    "FiretitanTrainingClient",
    "GradAccNormalization",
    "GradNormMetricsMode",
    "LoadAdapterResponse",
    "SaveSamplerResult",
    "ServiceClient",
    "TrainerFuture",
    "TrainingClient",
    "generate_session_id",
    "make_cross_job_checkpoint_ref",
    "qualify_snapshot_name",
]

ServiceClient = FiretitanServiceClient
TrainingClient = FiretitanTrainingClient
CROSS_JOB_CHECKPOINT_REF_PREFIX = CROSS_JOB_SCHEME
PROTOCOL_CLIENT_VERSION = PROTOCOL_VERSION


def make_cross_job_checkpoint_ref(*, source_job_id: str, checkpoint_name: str) -> str:
    """``cross_job://<source_job_id>/<checkpoint_name>``, both parts checked."""
    return cross_job_reference(source_job_id, checkpoint_name)


def generate_session_id() -> str:
    """A new training-client session id: 8 lowercase hex characters."""
    return secrets.token_hex(4)


def qualify_snapshot_name(session_id: str, name: str) -> str:
    """The sampler snapshot name sent for ``name``: ``<name>-<session_id>``."""
    return check_checkpoint_name(f"{check_checkpoint_name(name)}-{session_id}")
