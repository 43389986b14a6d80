"""What the workflow needs of a ledger, local or remote: :class:`RunLedger`.

Both ledgers subclass it, so what follows from ``newest_first`` is written once here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .lease import Lease
from .record import LedgerRecord

__all__ = ["RunLedger"]


class RunLedger(Protocol):
    """What the workflow needs of a ledger, local or remote."""

    location: str
    lease: Lease

    def check(self) -> None:
        """Raise before any request when the ledger cannot be written."""
        ...

    def commit(self, record: LedgerRecord) -> bool:
        """Record a save (its data cursor, then the record)."""
        ...

    def newest_first(self) -> Iterator[LedgerRecord]:
        """Readable records, newest first."""
        ...

    def records(self) -> list[LedgerRecord]:
        """Every readable record, oldest first."""
        found = list(self.newest_first())
        found.reverse()
        return found

    def newest(self) -> LedgerRecord | None:
        """The newest readable record."""
        return next(self.newest_first(), None)

    def find(self, name: str, job_id: str) -> LedgerRecord | None:
        """The newest record of checkpoint ``name`` of trainer job ``job_id``."""
        ...

    def data_consumed_of(self, name: str, job_id: str) -> int | None:
        """The data cursor saved with ``name``, if any."""
        ...
