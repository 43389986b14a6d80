"""The layer rules of DESIGN.md, checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fireworks_training"

FORBIDDEN = {
    "checkpoints": {"clients", "emulator", "cli", "migrate"},
    "clients": {"emulator", "cli", "migrate"},
    "emulator": {"clients", "cli", "migrate"},
    "migrate": {"emulator", "cli"},
}


def _imported_modules(path: Path) -> set[str]:
    """Absolute dotted names a module imports, relative imports resolved."""
    package = ".".join(("fireworks_training", *path.relative_to(PACKAGE).parent.parts))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _top_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fireworks_training" or len(parts) < 2:
        return None
    return parts[1]


def _violations(layer: str) -> list[str]:
    problems: list[str] = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for module in sorted(_imported_modules(path)):
            if _top_layer(module) in FORBIDDEN[layer]:
                problems.append(f"{path.relative_to(PACKAGE)} imports {module}")
    return problems


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    assert _violations(layer) == []


def test_nothing_imports_cli() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("cli.py", "__main__.py")
        and any(_top_layer(m) == "cli" for m in _imported_modules(path))
    ]
    assert offenders == []


def test_the_checker_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fireworks_training"
    (fake / "checkpoints").mkdir(parents=True)
    (fake / "checkpoints" / "bad.py").write_text("from ..clients import fireworks\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    assert _violations("checkpoints") == [
        "checkpoints/bad.py imports fireworks_training.clients",
        "checkpoints/bad.py imports fireworks_training.clients.fireworks",
    ]
