"""Rich output for the command line and the demo: tables and a spinner on long waits.

Text that comes from a server or a user (names, states, messages) goes through
:func:`literal`: never read as rich markup (``[/b]`` is shown, not parsed), with control
characters shown escaped so that a server cannot drive the terminal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .checkpoints import Checkpoint, CheckpointKind
from .checkpoints.ledger import LedgerRecord

__all__ = [
    "checkpoint_table",
    "console",
    "ledger_kinds",
    "literal",
    "printable",
    "wait_with_spinner",
]

# C0 and C1 control characters and DEL (tab kept): escape sequences, bells, cursor moves.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), for a terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def literal(value: object, *, style: str = "") -> Text:
    """``value`` as rich text shown exactly as it is: no markup, no control characters."""
    return Text(printable(str(value)), style=style)


@functools.cache
def console() -> Console:
    """The shared console (created on first use, never at import)."""
    # Piped output (CI logs, files) gets a fixed width instead of a truncating 80 columns.
    probe = Console()
    return Console(highlight=False, width=None if probe.is_terminal else 120)


def ledger_kinds(records: Iterable[LedgerRecord]) -> dict[str, CheckpointKind]:
    """``{checkpoint id: kind of the workflow save that wrote it}``; later records win."""
    kinds: dict[str, CheckpointKind] = {}
    for record in records:
        resumable, promotable = record.state_path is not None, record.sampler_path is not None
        if not (resumable or promotable):
            continue
        kind = CheckpointKind.from_flags(resumable=resumable, promotable=promotable)
        if record.state_path is not None:
            kinds[record.name] = kind
        if record.sampler_path is not None:
            kinds[record.sampler_path] = kind
    return kinds


def checkpoint_table(
    rows: Iterable[Checkpoint],
    *,
    title: str,
    kinds: Mapping[str, CheckpointKind] | None = None,
) -> Table:
    """Type, promotable, resumable, step and creation time of each row.

    With ``kinds`` (see :func:`ledger_kinds`), also the kind each row was saved as
    (``-`` for rows the ledger does not know).
    """
    table = Table(title=literal(title))
    table.add_column("checkpoint")
    if kinds is not None:
        table.add_column("kind")
    for column in ("type", "promotable", "resumable", "step", "created"):
        table.add_column(column)
    for row in rows:
        created = row.create_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if row.create_time else "-"
        cells: list[Text | str] = [literal(row.checkpoint_id)]
        if kinds is not None:
            kind = kinds.get(row.checkpoint_id)
            cells.append("-" if kind is None else kind.name)
        table.add_row(
            *cells,
            literal(row.checkpoint_type.short_name),
            "yes" if row.promotable else "no",
            "yes" if row.resumable else "no",
            "-" if row.step is None else str(row.step),
            created,
        )
    return table


def wait_with_spinner(operation: Any, timeout: float | None, *, quiet: bool) -> Any:
    """Wait for an operation's result, showing a spinner to people."""
    if quiet:
        return operation.result(timeout)
    with console().status(literal(f"waiting for {operation.name} ...")):
        return operation.result(timeout)
