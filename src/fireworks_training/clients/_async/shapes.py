"""Training shapes: the validated profile a trainer of a shape runs with (docs/protocol.md §1.7).

Names, requests and replies are in ``_profiles.py``; this module sends the request.
"""

from __future__ import annotations

from .._profiles import (
    TrainingShapeProfile,
    check_training_shape_name,
    parse_training_profile,
    training_shape_request,
)
from ._base_client import AsyncAPIClient

__all__ = ["AsyncTrainingShapes"]


class AsyncTrainingShapes(AsyncAPIClient):
    """Resolving training shapes to their profiles."""

    async def resolve_training_profile(self, training_shape_id: str) -> TrainingShapeProfile:
        """The profile of a training shape: its latest validated version, or the one named.

        ``training_shape_id`` is a full name,
        ``accounts/<account>/trainingShapes/<shape>[/versions/<version>]``.
        """
        name = check_training_shape_name(training_shape_id)
        body = await self._call(training_shape_request(name))
        return parse_training_profile(body, name)
