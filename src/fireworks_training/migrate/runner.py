"""``fireworks-training migrate [--check] [--diff] PATH...``: files, modes, report, exit code.

Exit codes: 0 when no legacy call or rewritable official import is left in the files on
disk, 1 when some are (``--check`` and ``--diff`` change nothing, so every one counts; a
write counts the calls it could not rewrite), 2 on a usage error or a file that cannot be
read or parsed. Official names this package does not provide are reported and left as they
are; they do not count.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import libcst as cst

from .result import MigrationResult
from .transform import migrate_module

__all__ = ["add_arguments", "iter_python_files", "main_from_args", "run"]

EXIT_OK = 0
EXIT_LEGACY_LEFT = 1
EXIT_ERROR = 2
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``migrate`` options and ``PATH...`` to ``parser``."""
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if any legacy promote call or official import is found",
    )
    parser.add_argument(
        "--diff", action="store_true", help="print a unified diff instead of writing files"
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        type=Path,
        help="Python files, or directories searched for *.py",
    )


def main_from_args(args: argparse.Namespace) -> int:
    """Run with the options parsed by a parser that :func:`add_arguments` set up."""
    return run(args.paths, check=args.check, diff=args.diff)


@dataclass
class _Tally:
    files: int = 0
    changed_files: int = 0
    rewritten: int = 0
    imports: int = 0
    kept: int = 0
    left: int = 0
    errors: int = 0


def run(
    paths: Sequence[str | Path],
    *,
    check: bool = False,
    diff: bool = False,
    out: TextIO | None = None,
) -> int:
    """Migrate (or with ``check``/``diff`` only inspect) ``paths``; returns the exit code.

    Reports (and the diff) go to ``out``, by default ``sys.stdout`` at the time of the call.
    """
    out = sys.stdout if out is None else out
    files = _collect(paths, out)
    if files is None:
        return EXIT_ERROR
    tally = _Tally()
    for path in files:
        _process(path, check=check, diff=diff, out=out, tally=tally)
    _summarise(tally, dry_run=check or diff, out=out)
    if tally.errors:
        return EXIT_ERROR
    return EXIT_LEGACY_LEFT if tally.left else EXIT_OK


def _collect(paths: Sequence[str | Path], out: TextIO) -> list[Path] | None:
    if not paths:
        print("error: no PATH given", file=out)
        return None
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        print(f"error: no such file or directory: {', '.join(missing)}", file=out)
        return None
    return list(dict.fromkeys(iter_python_files(Path(p) for p in paths)))


def iter_python_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named on the command line, and ``*.py`` under directories, in sorted order.

    Hidden directories, caches, virtual environments (a ``pyvenv.cfg``) and symlinked
    directories (which may loop) are skipped.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for child in sorted(path.iterdir()):
            if child.is_dir() and not child.is_symlink() and not _skipped(child):
                yield from iter_python_files([child])
            elif child.is_file() and child.suffix == ".py":
                yield child


def _skipped(directory: Path) -> bool:
    hidden = directory.name.startswith(".")
    return hidden or directory.name in _SKIPPED_DIRS or (directory / "pyvenv.cfg").exists()


def _process(path: Path, *, check: bool, diff: bool, out: TextIO, tally: _Tally) -> None:
    tally.files += 1
    try:
        source = path.read_bytes()
        module = cst.parse_module(source)
    except (OSError, UnicodeDecodeError, SyntaxError, cst.ParserSyntaxError) as exc:
        tally.errors += 1
        print(f"{path}: error: cannot {_verb(exc)}: {_one_line(exc)}", file=out)
        return
    new_module, result = migrate_module(module)
    changed = new_module.bytes != source
    if diff and changed:
        out.writelines(_diff(path, module.code, new_module.code))
    if changed and not (check or diff):
        try:
            path.write_bytes(new_module.bytes)
        except OSError as exc:
            tally.errors += 1
            print(f"{path}: error: cannot write: {exc}", file=out)
            return
    _report(path, result, dry_run=check or diff, out=out)
    tally.rewritten += len(result.changes)
    tally.imports += len(result.imports)
    tally.kept += sum(len(kept.names) or 1 for kept in result.kept_imports)
    found = len(result.changes) + len(result.imports)
    tally.left += len(result.unsafe) + (found if check or diff else 0)
    tally.changed_files += changed


def _verb(exc: Exception) -> str:
    return "parse" if isinstance(exc, cst.ParserSyntaxError) else "read"


def _one_line(exc: Exception) -> str:
    if isinstance(exc, cst.ParserSyntaxError):
        return f"line {exc.raw_line}: {exc.message}"
    return str(exc)


def _diff(path: Path, before: str, after: str) -> Iterator[str]:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=path.as_posix(),
        tofile=path.as_posix(),
    )
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _report(path: Path, result: MigrationResult, *, dry_run: bool, out: TextIO) -> None:
    """One line per finding; line numbers in the file as it is on disk afterwards."""
    for change in result.changes:
        line = change.line if dry_run else change.new_line
        verb = "legacy call, rewritable" if dry_run else "rewritten"
        print(f"{path}:{line}: {change.method}: {verb}: name={change.name}", file=out)
        for note in change.notes:
            print(f"{path}:{line}: note: {note}", file=out)
    for call in result.unsafe:
        line = call.line if dry_run else call.new_line
        print(f"{path}:{line}: {call.method}: legacy call not rewritten: {call.reason}", file=out)
    for moved in result.imports:
        line = moved.line if dry_run else moved.new_line
        verb = "official import, rewritable" if dry_run else "rewritten"
        names = ", ".join(f"{n} -> {t}" for n, t in zip(moved.names, moved.targets, strict=True))
        print(f"{path}:{line}: import {moved.module}: {verb}: {names}", file=out)
    for kept in result.kept_imports:
        line = kept.line if dry_run else kept.new_line
        names = f"{', '.join(kept.names)}: " if kept.names else ""
        print(f"{path}:{line}: import {kept.module}: kept: {names}{kept.reason}", file=out)


def _summarise(tally: _Tally, *, dry_run: bool, out: TextIO) -> None:
    files = _plural(tally.files, "file")
    if dry_run:
        found = _plural(tally.left - tally.imports, "legacy call")
        if tally.imports:
            found += f" and {_plural(tally.imports, 'official import')}"
        print(f"{found} in {files}", file=out)
    else:
        done = _plural(tally.rewritten, "call")
        if tally.imports:
            done += f" and {_plural(tally.imports, 'import')}"
        print(
            f"rewrote {done} in {tally.changed_files} of {files}; "
            f"{tally.left} left to migrate by hand",
            file=out,
        )
    if tally.kept:
        print(
            f"{_plural(tally.kept, 'official name')} kept on the official SDK "
            "(fireworks_training does not provide them)",
            file=out,
        )
    if tally.errors:
        print(f"{_plural(tally.errors, 'file')} could not be read or parsed", file=out)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
