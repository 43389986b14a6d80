"""Drop-in for ``fireworks.training.sdk.sampling``: samplers on a deployment.

``DeploymentSampler`` (token level, coroutines), ``SampledCompletion``, and the tinker-shaped
``FiretitanSamplingClient``. See docs/weight-sync.md.
"""

from __future__ import annotations

from .clients.deployment_sampler import (
    DeploymentSampler,
    SampledCompletion,
    SamplingConcurrencyController,
)
from .clients.sampling import FiretitanSamplingClient, SnapshotPin
from .errors import SamplingClientClosedError, StaleSnapshotError

__all__ = [
    "DeploymentSampler",
    "FiretitanSamplingClient",
    "SampledCompletion",
    "SamplingClientClosedError",
    "SamplingConcurrencyController",
    "SnapshotPin",
    "StaleSnapshotError",
]
