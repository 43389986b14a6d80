"""Drop-in for ``fireworks.training.sdk.deployment``: deployments and their hot-load API.

``DeploymentManager``, ``DeploymentConfig``, ``DeploymentInfo`` and the delta constants
under their official names, plus the sampler names the official module re-exports
(``FiretitanSamplingClient`` is loaded on first use, as there). See docs/weight-sync.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clients._deployment_rules import TRANSITION_TYPES, DeploymentConfig, DeploymentInfo
from .clients._weight_sync_rules import DEFAULT_CHECKSUM_FORMAT, DEFAULT_DELTA_COMPRESSION
from .clients.deployment_sampler import (
    DeploymentSampler,
    SampledCompletion,
    SamplingConcurrencyController,
)
from .clients.deployments import AsyncDeploymentManager, DeploymentManager

if TYPE_CHECKING:
    from .clients.sampling import FiretitanSamplingClient

__all__ = [
    "DEFAULT_CHECKSUM_FORMAT",
    "DEFAULT_DELTA_COMPRESSION",
    "HOT_LOAD_TRANSITION_TYPES",
    "HOT_LOAD_TRANSITION_TYPE_ASYNC",
    "HOT_LOAD_TRANSITION_TYPE_SYNC",
    "AsyncDeploymentManager",
    "DeploymentConfig",
    "DeploymentInfo",
    "DeploymentManager",
    "DeploymentSampler",
    "FiretitanSamplingClient",
    "SampledCompletion",
    "SamplingConcurrencyController",
]

HOT_LOAD_TRANSITION_TYPE_ASYNC, HOT_LOAD_TRANSITION_TYPE_SYNC = TRANSITION_TYPES
HOT_LOAD_TRANSITION_TYPES = TRANSITION_TYPES


def __getattr__(name: str) -> Any:
    if name == "FiretitanSamplingClient":  # needs tinker: loaded on first use
        from .clients.sampling import FiretitanSamplingClient

        return FiretitanSamplingClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
