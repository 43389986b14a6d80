"""The control-plane client, at the path the official SDK uses
(``fireworks.training.sdk.fireworks_client``).

``from fireworks_training.fireworks_client import FireworksClient, TrainingShapeProfile``
works as the official import does. The implementation is in
``fireworks_training.clients.fireworks``; docs/migration.md lists what differs by design.
"""

from __future__ import annotations

from .checkpoints.names import validate_output_model_id
from .clients._profiles import ModelDetailsUnavailableError, TrainingShapeProfile
from .clients.fireworks import AsyncFireworksClient, FireworksClient

__all__ = [
    "AsyncFireworksClient",
    "FireworksClient",
    "ModelDetailsUnavailableError",
    "TrainingShapeProfile",
    "validate_output_model_id",
]
