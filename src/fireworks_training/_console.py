"""Rich output for the command line and the demo: tables and a spinner on long waits."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from .checkpoints import Checkpoint

__all__ = ["checkpoint_table", "console", "wait_with_spinner"]


@functools.cache
def console() -> Console:
    """The shared console (created on first use, never at import)."""
    # Piped output (CI logs, files) gets a fixed width instead of a truncating 80 columns.
    probe = Console()
    return Console(highlight=False, width=None if probe.is_terminal else 120)


def checkpoint_table(rows: Iterable[Checkpoint], *, title: str) -> Table:
    """Type, promotable, resumable, step and creation time of each row."""
    table = Table(title=title)
    for column in ("checkpoint", "type", "promotable", "resumable", "step", "created"):
        table.add_column(column)
    for row in rows:
        created = row.create_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if row.create_time else "-"
        table.add_row(
            row.checkpoint_id,
            row.checkpoint_type.short_name,
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
    with console().status(f"waiting for {operation.name} ..."):
        return operation.result(timeout)
