"""scripts/unasync.py: the rewrite rules, and --check naming a stale or extra twin."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "unasync.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


unasync = load()


@pytest.mark.parametrize(
    ("source", "twin"),
    [
        ("async def f(self) -> None:", "def f(self) -> None:"),
        ("    return await self._call(x)", "    return self._call(x)"),
        ("async with self._lock:", "with self._lock:"),
        ("async for row in pager:", "for row in pager:"),
        ("class AsyncFireworksClient(AsyncCheckpoints):", "class FireworksClient(Checkpoints):"),
        ("pager: AsyncPager[T]", "pager: SyncPager[T]"),
        ("http: httpx.AsyncClient | None", "http: httpx.Client | None"),
        ("def __aenter__(self)", "def __enter__(self)"),
        ("await self._http.aclose()", "self._http.close()"),
        ("await policy.acall(fn)", "policy.call(fn)"),
        ("await self._retry.async_sleep(1)", "self._retry.sleep(1)"),
        ("self._lock = asyncio.Lock()", "self._lock = threading.Lock()"),
        ("sleep=asyncio.sleep", "sleep=time.sleep"),
        ("refresh: Callable[[str], Awaitable[Page[T]]]", "refresh: Callable[[str], Page[T]]"),
        (
            "from ..._async.operations import AsyncOperation",
            "from ..._sync.operations import Operation",
        ),
        ("x -> AsyncIterator[T]", "x -> Iterator[T]"),
        # Names that merely contain the words stay as they are.
        ("attempts.async_promotion", "attempts.async_promotion"),
        ("_sleep_async = 1", "_sleep_async = 1"),
        ("awaited_value", "awaited_value"),
    ],
)
def test_rewrite_rules(source: str, twin: str) -> None:
    assert unasync.rewrite(source + "\n") == twin + "\n"


def test_async_only_blocks_are_left_out() -> None:
    source = (
        "    async def close(self) -> None:\n"
        "        pass\n"
        "    # unasync: async only\n"
        "    async def aclose(self) -> None:\n"
        "        await self.close()\n"
        "    # unasync: end\n"
        "    x = 1\n"
    )
    assert unasync.rewrite(source) == "    def close(self) -> None:\n        pass\n    x = 1\n"


def test_check_names_a_stale_twin_and_an_extra_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "src" / "fireworks_training"
    shutil.copytree(SCRIPT.parents[1] / "src" / "fireworks_training" / "_async", package / "_async")
    shutil.copy(SCRIPT.parents[1] / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.setattr(unasync, "ROOT", tmp_path)
    monkeypatch.setattr(unasync, "SOURCE_ROOT", tmp_path / "src")
    monkeypatch.setattr(unasync, "PACKAGE_ROOT", package)
    assert unasync.main(["--check"]) == 1  # nothing generated yet
    assert unasync.main([]) == 0
    assert unasync.main(["--check"]) == 0
    twin = package / "_sync" / "pagination.py"
    twin.write_text(twin.read_text() + "# a hand edit\n")
    (package / "_sync" / "orphan.py").write_text("")
    capsys.readouterr()
    assert unasync.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "stale: src/fireworks_training/_sync/pagination.py" in out
    assert "extra: src/fireworks_training/_sync/orphan.py" in out
