"""What can go wrong with a run's ``log_path``.

::

    InvalidArgumentError (ValueError)
    └── LogPathError          log_path cannot hold a ledger (checked before any request)
        └── MissingExtraError a log_path URL needs a package (also an ImportError)
    FireworksError (RuntimeError)
    ├── LedgerStorageError    the storage behind log_path failed a read or a write
    └── LogPathInUseError     another training loop writes to the same log_path
"""

from __future__ import annotations

from ...errors import FireworksError, InvalidArgumentError

__all__ = ["LedgerStorageError", "LogPathError", "LogPathInUseError", "MissingExtraError"]


class LogPathError(InvalidArgumentError):
    """``log_path`` is not a usable run directory (a file, dangling, read-only, ...)."""


class MissingExtraError(LogPathError, ImportError):
    """A ``log_path`` URL needs fsspec (or its scheme's package), which is not installed."""


class LedgerStorageError(FireworksError):
    """A read or write of the run's records failed on its storage."""


class LogPathInUseError(FireworksError):
    """Another training loop holds (or took over) the run's ``log_path``."""
