"""The layer rules of docs/architecture.md, checked on the import statements of every module."""

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
# The emulator is an independent server: it imports nothing of the SDK outside itself.
SELF_CONTAINED = {"emulator"}


def _lazy_sources() -> dict[str, str]:
    """The package root's lazily exported names and the modules they load (``_SOURCES``)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "_SOURCES":
            assert node.value is not None
            sources: dict[str, str] = ast.literal_eval(node.value)
            return {name: f"fireworks_training{module}" for name, module in sources.items()}
    raise AssertionError("no _SOURCES in the package's __init__.py")


# Read once from the real package: the self-tests below point PACKAGE at a fake tree.
LAZY = _lazy_sources()


def _imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Absolute dotted names a module imports, relative imports resolved.

    A name imported from the package root counts as the module it is loaded from
    (``from .. import FireworksClient`` imports ``fireworks_training.clients.fireworks``);
    ``import fireworks_training`` or a star import counts as every lazily exported module.
    """
    package = ".".join(("fireworks_training", *path.relative_to(PACKAGE).parent.parts))
    found: set[str] = set()
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            if any(alias.name == "fireworks_training" for alias in node.names):
                found.update(LAZY.values())
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
            if base == "fireworks_training":
                for alias in node.names:
                    if alias.name == "*":
                        found.update(LAZY.values())
                    elif alias.name in LAZY:
                        found.add(LAZY[alias.name])
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
            top = _top_layer(module)
            if top in FORBIDDEN[layer] or (layer in SELF_CONTAINED and top not in (None, layer)):
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


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("checkpoints", "from .. import FireworksClient\n"),
        ("checkpoints", "from fireworks_training import CheckpointName, FireworksClient\n"),
        ("emulator", "from ... import TrainerJobManager\n"),
        ("emulator", "from fireworks_training import *\n"),
        ("emulator", "import fireworks_training\n"),
    ],
)
def test_the_checker_sees_lazy_names_of_the_package_root(layer: str, source: str) -> None:
    path = PACKAGE / layer / "sub" / "bad.py" if "..." in source else PACKAGE / layer / "bad.py"
    flagged = [m for m in _imported_modules(path, source) if _top_layer(m) in FORBIDDEN[layer]]
    assert any(m.startswith("fireworks_training.clients.") for m in flagged), flagged


@pytest.mark.parametrize(
    "source",
    [
        "from ..checkpoints.names import CheckpointName\n",
        "from ..errors import InvalidNameError\n",
        "from .. import __version__\n",
        "import fireworks_training.checkpoints.kinds\n",
    ],
)
def test_the_emulator_may_not_import_any_of_the_sdk(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fireworks_training"
    (fake / "emulator").mkdir(parents=True)
    (fake / "emulator" / "bad.py").write_text(source + "from .names import parse_name\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    flagged = _violations("emulator")
    assert flagged
    assert not any("emulator.names" in line for line in flagged)


def test_the_root_names_allowed_in_checkpoints_are_not_flagged() -> None:
    path = PACKAGE / "checkpoints" / "ok.py"
    imported = _imported_modules(path, "from .. import CheckpointName, __version__\n")
    assert not any(_top_layer(m) in FORBIDDEN["checkpoints"] for m in imported)
    assert "fireworks_training.checkpoints" in imported


def test_lazy_names_map_to_real_modules() -> None:
    # The sync client from its own module: its import loads no asyncio (test_lazy_import).
    assert LAZY["FireworksClient"] == "fireworks_training.clients._sync.fireworks"
    assert LAZY["AsyncFireworksClient"] == "fireworks_training.clients._async.fireworks"
    for module in set(LAZY.values()):
        where = PACKAGE.joinpath(*module.split(".")[1:])
        assert where.with_suffix(".py").exists() or (where / "__init__.py").exists(), module
