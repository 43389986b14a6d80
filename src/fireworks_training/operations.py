"""Long-running operations: an object the caller holds while the server works.

``Operation[T]`` and ``AsyncOperation[T]``: ``done()``, ``result(timeout)``,
``exception(timeout)``, ``name``, ``metadata``, ``status_message``. ``OperationStatus`` is
the operation as the server reports it (``get_operation``), ``RpcStatus`` its error.
Polling: ``poll_delays`` (first poll after about 0.5 s, then x1.5 up to 10 s).
"""

from __future__ import annotations

from ._async.operations import AsyncOperation
from ._base_operation import poll_delays
from ._sync.operations import Operation
from .checkpoints.types import OperationStatus, RpcStatus

__all__ = ["AsyncOperation", "Operation", "OperationStatus", "RpcStatus", "poll_delays"]
