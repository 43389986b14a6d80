"""What can go wrong with a run's ``log_path`` (the classes live in ``errors``).

::

    InvalidArgumentError (ValueError)
    └── LogPathError          log_path cannot hold a ledger (checked before any request)
        └── MissingExtraError a log_path URL needs a package (also an ImportError)
    FireworksError (RuntimeError)
    ├── LedgerStorageError    the storage behind log_path failed a read or a write
    └── LogPathInUseError     another training loop writes to the same log_path
"""

from __future__ import annotations

from ...errors import LedgerStorageError, LogPathError, LogPathInUseError, MissingExtraError

__all__ = ["LedgerStorageError", "LogPathError", "LogPathInUseError", "MissingExtraError"]
