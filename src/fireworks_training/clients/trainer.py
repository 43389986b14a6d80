"""The trainer clients: ``FiretitanServiceClient`` and ``FiretitanTrainingClient``.

The trainer API of docs/protocol.md §2, in the shape of tinker's ``ServiceClient`` and
``TrainingClient`` (both are subclasses of tinker's, for ``isinstance``) and of the official
SDK's classes of the same names. Every op returns a
:class:`~fireworks_training.futures.TrainerFuture` at once; ops are sent in call order
(``seq_id`` 1, 2, ...) even from many threads, and their results may be read in any order.
Requests run on one background event loop thread per trainer connection.
"""

from __future__ import annotations

from .._retry import PollTuning
from ._service_client import FiretitanServiceClient
from ._trainer_wire import GradAccNormalization, GradNormMetricsMode, LoadAdapterResponse
from ._training_client import FiretitanTrainingClient

__all__ = [
    "FiretitanServiceClient",
    "FiretitanTrainingClient",
    "GradAccNormalization",
    "GradNormMetricsMode",
    "LoadAdapterResponse",
    "PollTuning",
]
