"""A run's records: what each save wrote and the data cursor that goes with it.

Local folders keep the cookbook's ``checkpoints.jsonl`` and ``dataloader.json``
(:class:`Ledger`); a ``log_path`` URL keeps one immutable object per record
(:class:`RemoteLedger`). Both sit behind :class:`RunLedger`, made by :func:`open_ledger`.
"""

from .errors import LedgerStorageError, LogPathError, LogPathInUseError, MissingExtraError
from .lease import DEFAULT_LEASE_TTL_S, Lease
from .local import CHECKPOINTS_FILE, DATALOADER_FILE, Ledger
from .opening import REMOTE_EXTRA, RunLedger, is_url, ledger_at, open_ledger, redact_url
from .record import SCHEMA, LedgerRecord, LedgerWarning, parse_record, plain_extra
from .remote import RemoteLedger

__all__ = [
    "CHECKPOINTS_FILE",
    "DATALOADER_FILE",
    "DEFAULT_LEASE_TTL_S",
    "REMOTE_EXTRA",
    "SCHEMA",
    "Lease",
    "Ledger",
    "LedgerRecord",
    "LedgerStorageError",
    "LedgerWarning",
    "LogPathError",
    "LogPathInUseError",
    "MissingExtraError",
    "RemoteLedger",
    "RunLedger",
    "is_url",
    "ledger_at",
    "open_ledger",
    "parse_record",
    "plain_extra",
    "redact_url",
]
