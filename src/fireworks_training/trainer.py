"""Trainer jobs, at the path the official SDK uses (``fireworks.training.sdk.trainer``).

``from fireworks_training.trainer import TrainerJobManager, TrainerServiceEndpoint`` works as
``from fireworks.training.sdk.trainer import ...`` does. The implementation is in
``fireworks_training.clients.jobs``; docs/migration.md lists what differs by design.
"""

from __future__ import annotations

from .clients.jobs import (
    AsyncTrainerJobManager,
    CreatedTrainerJob,
    TrainerJobConfig,
    TrainerJobManager,
    TrainerServiceEndpoint,
)

__all__ = [
    "AsyncTrainerJobManager",
    "CreatedTrainerJob",
    "TrainerJobConfig",
    "TrainerJobManager",
    "TrainerServiceEndpoint",
]
