"""``TrainerJobManager`` and ``AsyncTrainerJobManager``: trainer jobs on the control plane.

Create (idempotent by id), get, delete, resume, and wait until a job's trainer answers its
health check; ``reconnect_and_wait`` brings a preempted job back (docs/protocol.md §1.5).
The async manager is written in ``_async/jobs.py``; the sync one is generated from it.
"""

from __future__ import annotations

from ..checkpoints.types import TrainerJob
from ._async.jobs import AsyncTrainerJobManager
from ._job_rules import TrainerJobConfig
from ._sync.jobs import TrainerJobManager

__all__ = ["AsyncTrainerJobManager", "TrainerJob", "TrainerJobConfig", "TrainerJobManager"]
