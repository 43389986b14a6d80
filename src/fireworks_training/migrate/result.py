"""What one migration found: the new source, the calls it rewrote, the calls it left alone."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Change", "ImportChange", "KeptImport", "MigrationResult", "UnsafeCall"]


@dataclass(frozen=True)
class Change:
    """A legacy call rewritten to the ``name=`` form.

    ``line`` is where the call starts in the source as given, ``new_line`` in the migrated
    code (they differ below an added TODO comment).
    """

    line: int
    method: str
    name: str  # the source of the new ``name=`` argument
    notes: tuple[str, ...] = ()
    new_line: int = 0


@dataclass(frozen=True)
class UnsafeCall:
    """A legacy call left untouched because rewriting it could change what the code does."""

    line: int
    method: str
    reason: str
    new_line: int = 0


@dataclass(frozen=True)
class ImportChange:
    """An import from the official SDK now importing ``names`` from ``fireworks_training``.

    ``targets`` are our modules, one per name, in order.
    """

    line: int
    module: str
    names: tuple[str, ...]
    targets: tuple[str, ...]
    new_line: int = 0


@dataclass(frozen=True)
class KeptImport:
    """Official names left as they are (not provided here, or not visible in the statement)."""

    line: int
    module: str
    names: tuple[str, ...]
    reason: str
    new_line: int = 0


@dataclass(frozen=True)
class MigrationResult:
    """The migrated source and what happened to every legacy call and official import in it."""

    code: str
    changes: list[Change] = field(default_factory=list)
    unsafe: list[UnsafeCall] = field(default_factory=list)
    imports: list[ImportChange] = field(default_factory=list)
    kept_imports: list[KeptImport] = field(default_factory=list)

    @property
    def legacy_calls(self) -> int:
        """Legacy calls in the source before migration (rewritten or not)."""
        return len(self.changes) + len(self.unsafe)
