"""What a workflow save may replace: nothing the server holds, unless the caller says so.

The server's state rows are listed once per process (by ``resume()``, or before the first
state save); the saves of this process are remembered, so a repeated save sends nothing
and a save whose local records failed can be recorded without saving again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import CheckpointExistsError
from .kinds import CheckpointKind
from .ledger import LedgerRecord
from .names import step_of
from .types import Checkpoint

__all__ = ["CheckpointExistsError", "SaveGuard", "Saved", "state_ids"]


@dataclass
class Saved:
    """A save of this process: what it recorded, and whether the record is written."""

    record: LedgerRecord
    committed: bool

    def is_kind(self, kind: CheckpointKind) -> bool:
        """Whether it saved exactly what ``kind`` saves."""
        record = self.record
        return (record.state_path is not None, record.sampler_path is not None) == (
            kind.resumable,
            kind.promotable,
        )

    def lacks_sampler_of(self, kind: CheckpointKind) -> bool:
        """Whether ``kind`` asks for both and only the sampler half is missing."""
        record = self.record
        both = kind.resumable and kind.promotable
        return both and record.state_path is not None and record.sampler_path is None


def state_ids(rows: list[Checkpoint]) -> set[str]:
    """Ids of rows that may hold training state: any type but sampler weights (a state
    type newer than this library still counts)."""
    return {row.checkpoint_id for row in rows if not row.checkpoint_type.is_sampler}


class SaveGuard:
    """The state rows a job held before this process saved, and this process's saves."""

    def __init__(self, job_id: str, list_rows: Callable[[], list[Checkpoint]]) -> None:
        self.job_id = job_id
        self._list_rows = list_rows
        self._states: set[str] | None = None
        self.resumed = False
        self.saves: dict[str, Saved] = {}

    def listed(self, rows: list[Checkpoint]) -> None:
        """Take the job's rows from a listing made for another reason (resume)."""
        self._states = state_ids(rows)

    def states(self) -> set[str]:
        """The job's state rows before this process's saves (listed once)."""
        if self._states is None:
            self._states = state_ids(self._list_rows())
        return self._states

    def same_point(
        self, name: str, step: int | None, data_consumed: int | None, extra: dict[str, Any]
    ) -> Saved | None:
        """This process's save of ``name`` at the same step, cursor and extras, if any."""
        done = self.saves.get(name)
        if done is None:
            return None
        record = done.record
        same = (record.step, record.data_consumed) == (step, data_consumed) and (
            record.model_extra or {}
        ) == extra
        return done if same else None

    def check(self, name: str, replace: bool) -> None:
        """Raise :class:`CheckpointExistsError` unless saving state ``name`` replaces
        nothing, or ``replace`` says it may."""
        existing = self.states()
        if replace:
            return
        if existing and not self.resumed:
            newest = max(existing, key=lambda n: (step_of(n) or -1, n))
            raise CheckpointExistsError(
                f"trainer job {self.job_id!r} already holds {len(existing)} state "
                f"checkpoint(s) (e.g. {newest!r}) and this run did not resume: call resume() "
                "first, pass overwrite=True, or use a new trainer job"
            )
        if name in existing or name in self.saves:
            raise CheckpointExistsError(
                f"checkpoint {name!r} already exists on trainer job {self.job_id!r}: "
                "pass overwrite=True to replace it, or save under another name"
            )
