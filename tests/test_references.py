"""Docstrings point inside the repository: sections of docs/protocol.md that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fireworks_training"
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()
OUTSIDE = re.compile(r"\b(?:PROTOCOL|DOMAIN|WEIGHT_SYNC|DESIGN|STYLE)\.md\b|\.\./shared")
SECTION = re.compile(r"docs/protocol\.md((?: (?:and )?§[0-9.]+,?)+)")


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def documents() -> list[Path]:
    """What a reader of the repository reads besides the code."""
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]


def test_no_source_names_a_file_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*sources(), *documents()]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def headings() -> set[str]:
    found = set()
    for line in PROTOCOL.splitlines():
        match = re.match(r"^#{2,3} ([0-9]+(?:\.[0-9]+)?)\.? ", line)
        if match:
            found.add(match.group(1))
    return found


def test_every_protocol_section_named_in_the_code_exists() -> None:
    known = headings()
    assert {"0", "1", "1.1", "1.6", "2", "2.5", "3", "4", "5"} <= known
    cited = {
        (path.relative_to(ROOT).as_posix(), section.rstrip(".,"))
        for path in sources()
        for match in SECTION.finditer(path.read_text())
        for section in re.findall(r"§([0-9.]+)", match.group(1))
    }
    assert cited
    assert sorted(c for c in cited if c[1] not in known) == []
