"""``TrainerJobManager`` and ``AsyncTrainerJobManager``: trainer jobs on the control plane.

Create (idempotent by id), get, delete, resume, and wait until a job's trainer answers its
health check; ``reconnect_and_wait`` brings a preempted job back (docs/protocol.md §1.5).
Each manager is also a control-plane client (it lists and promotes checkpoints). The async
manager is written in ``_async/jobs.py``; the sync one is generated from it.
"""

from __future__ import annotations

from ..checkpoints.types import TrainerJob
from ._async.jobs import AsyncTrainerJobManager
from ._job_config import TrainerJobConfig
from ._job_rules import CreatedTrainerJob, TrainerServiceEndpoint
from ._sync.jobs import TrainerJobManager

__all__ = [
    "AsyncTrainerJobManager",
    "CreatedTrainerJob",
    "TrainerJob",
    "TrainerJobConfig",
    "TrainerJobManager",
    "TrainerServiceEndpoint",
]
