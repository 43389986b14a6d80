"""``DeploymentManager`` and ``AsyncDeploymentManager``: deployments and their hot-load API.

docs/protocol.md §4. The async manager is written in ``_async/`` (``deployments.py`` for the
resource, ``hot_load.py`` for the hot-load API); the sync one is generated from it. The sync
manager's ``account_id`` resolves the account on first read, as the official one does.
"""

from __future__ import annotations

from ._async.deployment_manager import AsyncDeploymentManager
from ._deployment_rules import DeploymentConfig, DeploymentInfo
from ._sync.deployment_manager import DeploymentManager as _DeploymentManager
from ._weight_sync_rules import DEFAULT_CHECKSUM_FORMAT, DEFAULT_DELTA_COMPRESSION

__all__ = [
    "DEFAULT_CHECKSUM_FORMAT",
    "DEFAULT_DELTA_COMPRESSION",
    "AsyncDeploymentManager",
    "DeploymentConfig",
    "DeploymentInfo",
    "DeploymentManager",
]


class DeploymentManager(_DeploymentManager):
    """Deployments: create or get, wait, update, scale, delete, re-attach, hot-load, warm up.

    Arguments in the official order: ``(api_key, base_url, inference_url, hotload_api_url,
    additional_headers, verify_ssl)``, then keyword-only ``account_id``, ``timeout``,
    ``max_retries``, ``http_client``. Use it as a context manager or close it.
    """

    @property
    def account_id(self) -> str:
        """The account id: as given, else resolved with the API key on first read."""
        return self.get_account_id()
