"""Every Python block in the docs and the README runs against the emulator.

A block that cannot run says why on the line before its fence:
``<!-- not run: <reason> -->``. Blocks of one page share a namespace, in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (.*?) -->\s*$")


def blocks(page: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line, code, reason it is not run) for each Python block of a page."""
    text = page.read_text()
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NOT_RUN.search(before)
        line = text.count("\n", 0, match.start()) + 1
        yield line, match.group(1), (skip.group(1).strip() if skip else None)


def test_every_skipped_block_says_why() -> None:
    for page in PAGES:
        for line, _, reason in blocks(page):
            assert reason != "", f"{page.name}:{line}: a not-run block needs a reason"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    emulator_module = pytest.importorskip("fireworks_training.emulator")
    with emulator_module.Emulator() as emu:
        yield emu


RUNNABLE = [p for p in PAGES if any(reason is None for _, _, reason in blocks(p))]


@pytest.mark.parametrize("page", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_page_examples_run(page: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", emulator.api_key)
    monkeypatch.setenv("FIREWORKS_BASE_URL", emulator.base_url)
    job_id = emulator.create_trainer_job(base_model="accounts/fireworks/models/tiny-bigram")
    namespace: dict[str, Any] = {
        "__name__": f"docs_{page.stem}",
        "emu": emulator,
        "job_id": job_id,
        "trainer_url": emulator.trainer_url(job_id),
        "base_model": "accounts/fireworks/models/tiny-bigram",
    }
    for line, code, reason in blocks(page):
        if reason is None:
            exec(compile(code, f"{page}:{line}", "exec"), namespace)
    namespace.clear()
