"""What the distribution declares: one version, numpy, extras for commands, dev groups."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import fireworks_training

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Runs a command with the named modules hidden, as if their extra were not installed.
HIDDEN = """
import sys

class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Hide())
from fireworks_training.cli import main
sys.exit(main({argv!r}))
"""


def run_without(hidden: set[str], argv: list[str]) -> subprocess.CompletedProcess[str]:
    code = HIDDEN.format(hidden=sorted(hidden), argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


@pytest.mark.parametrize(
    ("argv", "hidden", "extra"),
    [
        (["demo"], {"uvicorn"}, "emulator"),
        (["demo", "--steps", "3"], {"starlette", "uvicorn"}, "emulator"),
        (["emulator", "--port", "0"], {"uvicorn"}, "emulator"),
        (["migrate", "--check", "x.py"], {"libcst"}, "migrate"),
    ],
)
def test_a_command_without_its_extra_says_which_to_install(
    argv: list[str], hidden: set[str], extra: str
) -> None:
    done = run_without(hidden, argv)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: 'fireworks-training {argv[0]}' needs the {extra} extra: "
        f"pip install 'fireworks-training[{extra}]'"
    ]


def test_commands_without_an_extra_work_when_extras_are_missing() -> None:
    done = run_without({"uvicorn", "starlette", "libcst"}, ["--version"])
    assert done.returncode == 0
    assert done.stdout.strip() == f"fireworks-training {fireworks_training.__version__}"


def test_one_version_source() -> None:
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["hatch"]["version"]["path"] == "src/fireworks_training/_version.py"
    assert importlib.metadata.version("fireworks-training") == fireworks_training.__version__


def test_numpy_is_a_runtime_dependency_and_extras_are_for_users() -> None:
    names = [req.split(">")[0].split("<")[0] for req in PYPROJECT["project"]["dependencies"]]
    assert "numpy" in names
    # What users install: a command's extra, or an optional feature (remote log_path, torch).
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert extras == {"emulator", "migrate", "remote", "torch"}
    assert {"dev", "docs", "bench"} <= set(PYPROJECT["dependency-groups"])
