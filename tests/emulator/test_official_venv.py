"""Building the official client's virtualenv (``benchmarks/official.py``), with no real installs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from benchmarks import official


class FakeTools:
    """Stands in for ``python -m venv``, pip and the import check."""

    def __init__(self, *, install_ok: bool = True, import_ok: bool = True) -> None:
        self.install_ok = install_ok
        self.import_ok = import_ok
        self.calls: list[list[str]] = []
        self.during_first_install: Callable[[], None] | None = None

    def run(self, cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            target = Path(cmd[3])
            (target / "bin").mkdir(parents=True)
            (target / "bin" / "python").write_text("")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if cmd[1:4] == ["-m", "pip", "install"]:
            venv = Path(cmd[0]).parent.parent
            assert venv.is_dir(), f"{venv} was removed while being built"
            if self.during_first_install is not None:
                hook, self.during_first_install = self.during_first_install, None
                hook()
            assert venv.is_dir(), f"{venv} was removed while being built"
            if not self.install_ok:
                return subprocess.CompletedProcess(cmd, 1, "", "No matching distribution")
            (venv / "installed").write_text(cmd[-1])
            return subprocess.CompletedProcess(cmd, 0, "", "")
        assert cmd[1] == "-c"
        assert cmd[2] == f"import {official._MODULE}"
        code = 0 if self.import_ok else 1
        return subprocess.CompletedProcess(cmd, code, "", "ModuleNotFoundError: fireworks")


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    fake = FakeTools()
    monkeypatch.setattr(official, "_VENV", tmp_path / "cache" / "1.2.30")
    monkeypatch.setattr(official, "subprocess", SimpleNamespace(run=fake.run))
    return fake


def _cache(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache").iterdir())


def test_a_build_installs_without_pins_then_the_runtime_deps(
    tools: FakeTools, tmp_path: Path
) -> None:
    client, why = official.official_client()
    assert client is not None
    assert why == f"fireworks-ai=={official.VERSION}"
    assert client.python == tmp_path / "cache" / "1.2.30" / "bin" / "python"
    pips = [c[3:] for c in tools.calls if c[1:3] == ["-m", "pip"]]
    flags = ["install", "--quiet", "--disable-pip-version-check"]
    assert pips == [
        [*flags, "--no-deps", f"fireworks-ai=={official.VERSION}"],
        [*flags, *official._RUNTIME_DEPS],
    ]
    assert _cache(tmp_path) == ["1.2.30"]  # no staging directory left


def test_a_failed_install_is_a_reason_to_skip(tools: FakeTools, tmp_path: Path) -> None:
    tools.install_ok = False
    client, why = official.official_client()
    assert client is None
    assert why.startswith(f"cannot install fireworks-ai=={official.VERSION}")
    assert "No matching distribution" in why
    assert _cache(tmp_path) == []


def test_an_installed_client_that_does_not_import_fails(tools: FakeTools, tmp_path: Path) -> None:
    tools.import_ok = False
    with pytest.raises(RuntimeError, match=r"does not import.*\n.*ModuleNotFoundError"):
        official.official_client()
    assert _cache(tmp_path) == []  # a broken build is not cached


def test_a_cached_client_that_does_not_import_fails(tools: FakeTools, tmp_path: Path) -> None:
    assert official.official_client()[0] is not None
    tools.import_ok = False
    with pytest.raises(RuntimeError, match="delete that directory to rebuild"):
        official.official_client()


def test_concurrent_builders_leave_each_other_alone(tools: FakeTools, tmp_path: Path) -> None:
    finished: list[str | None] = []
    tools.during_first_install = lambda: finished.append(official._build())
    assert official._build() is None  # the first builder, overtaken while installing
    assert finished == [None]
    venv = tmp_path / "cache" / "1.2.30"
    assert (venv / "installed").read_text() == official._RUNTIME_DEPS[-1]
    assert _cache(tmp_path) == ["1.2.30"]
    assert len({c[3] for c in tools.calls if c[1:3] == ["-m", "venv"]}) == 2  # own directories
