"""Every code block in the docs and the README runs against the emulator, or says why not.

``python`` blocks of a page run in order in one namespace (``emu``, ``job_id``, ``trainer_url``,
``base_model``). ``bash``/``sh``/``shell`` blocks run in bash (``-euo pipefail``) against an
emulator of their own, with ``FIREWORKS_BASE_URL``, ``FIREWORKS_API_KEY`` and ``JOB_ID`` set.
``text`` and ``console`` blocks are output. Any other block, or one that cannot run, says why
on the line before its fence: ``<!-- not run: <reason> -->``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*ROOT.joinpath("docs").glob("*.md"), ROOT / "README.md"])
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (.*?) -->\s*$")
OUTPUT = frozenset({"text", "console"})
SHELL = frozenset({"bash", "sh", "shell"})
RUNNERS = frozenset({"python"} | SHELL)
BASE_MODEL = "accounts/fireworks/models/tiny-bigram"


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    code: str
    reason: str | None  # why it is not run; None when unmarked

    @property
    def runs(self) -> bool:
        return self.reason is None and self.language not in OUTPUT


def blocks(text: str) -> list[Block]:
    """Every fenced block of a page, with the reason it is not run, if marked."""
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = NOT_RUN.search(before)
        line = text.count("\n", 0, match.start()) + 1
        reason = skip.group(1).strip() if skip else None
        found.append(Block(line, match.group(1).lower(), match.group(2), reason))
    return found


def problems(text: str) -> list[str]:
    """Blocks that would neither run nor say why."""
    found = []
    for block in blocks(text):
        if block.reason == "":
            found.append(f"line {block.line}: a not-run block needs a reason")
        elif block.runs and block.language not in RUNNERS:
            found.append(
                f"line {block.line}: nothing runs a {block.language or 'plain'!r} block; "
                "mark it <!-- not run: <reason> -->"
            )
    return found


def run_shell(code: str, env: dict[str, str], cwd: Path) -> None:
    """Run a shell block; fail with its output unless every command succeeds."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def shell_env(emulator: Any, job_id: str) -> dict[str, str]:
    """This interpreter's scripts first on PATH; the emulator's address and key."""
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "FIREWORKS_BASE_URL": emulator.base_url,
        "FIREWORKS_API_KEY": emulator.api_key,
        "JOB_ID": job_id,
    }


def run_blocks(
    text: str, name: str, namespace: dict[str, Any], env: dict[str, str] | None, cwd: Path
) -> list[int]:
    """Run a page's unmarked blocks in order; the lines of those that ran."""
    ran = []
    for block in blocks(text):
        if not block.runs:
            continue
        if block.language == "python":
            exec(compile(block.code, f"{name}:{block.line}", "exec"), namespace)
        elif block.language in SHELL:
            assert env is not None, f"{name}:{block.line}: no emulator for a shell block"
            run_shell(block.code, env, cwd)
        else:
            raise AssertionError(f"{name}:{block.line}: {problems(text)}")
        ran.append(block.line)
    return ran


def test_every_block_runs_or_says_why() -> None:
    for page in PAGES:
        assert problems(page.read_text()) == [], page.name


SYNTHETIC = """\
# A page

```python
shown = 1
```

<!-- not run: needs your own cluster -->
```bash
kubectl apply -f job.yaml
```

```bash
test "$JOB_ID" = job-x && echo "$FIREWORKS_BASE_URL" > seen.txt
```

```yaml
unmarked: true
```

<!-- not run:  -->
```python
x = 1
```

```text
output, not run
```
"""


def test_the_check_fails_on_unmarked_unrunnable_blocks(tmp_path: Path) -> None:
    assert [(b.line, b.language, b.reason) for b in blocks(SYNTHETIC)] == [
        (3, "python", None),
        (8, "bash", "needs your own cluster"),
        (12, "bash", None),
        (16, "yaml", None),
        (21, "python", ""),
        (25, "text", None),
    ]
    assert [p.split(":")[0] for p in problems(SYNTHETIC)] == ["line 16", "line 21"]
    env = {**os.environ, "JOB_ID": "job-x", "FIREWORKS_BASE_URL": "http://emu"}
    namespace: dict[str, Any] = {}
    with pytest.raises(AssertionError, match="line 16"):
        run_blocks(SYNTHETIC, "synthetic.md", namespace, env, tmp_path)
    assert namespace["shown"] == 1
    assert (tmp_path / "seen.txt").read_text() == "http://emu\n"


def test_a_failing_shell_block_fails(tmp_path: Path) -> None:
    page = "```bash\ntrue\nfalse\necho never\n```\n"
    with pytest.raises(AssertionError, match="exit 1"):
        run_blocks(page, "synthetic.md", {}, dict(os.environ), tmp_path)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    emulator_module = pytest.importorskip("fireworks_training.emulator")
    with emulator_module.Emulator() as emu:
        yield emu


RUNNABLE = [p for p in PAGES if any(b.runs for b in blocks(p.read_text()))]


@pytest.mark.parametrize("page", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_page_examples_run(
    page: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", emulator.api_key)
    monkeypatch.setenv("FIREWORKS_BASE_URL", emulator.base_url)
    monkeypatch.chdir(tmp_path)
    text = page.read_text()
    job_id = emulator.create_trainer_job(base_model=BASE_MODEL)
    namespace: dict[str, Any] = {
        "__name__": f"docs_{page.stem}",
        "emu": emulator,
        "job_id": job_id,
        "trainer_url": emulator.trainer_url(job_id),
        "base_model": BASE_MODEL,
    }
    with ExitStack() as stack:
        env = None
        if any(b.runs and b.language in SHELL for b in blocks(text)):
            # Shell blocks switch faults and modes: an emulator of their own.
            emulator_class = pytest.importorskip("fireworks_training.emulator").Emulator
            shell_emulator = stack.enter_context(emulator_class())
            env = shell_env(shell_emulator, shell_emulator.create_trainer_job())
        run_blocks(text, str(page), namespace, env, tmp_path)
    namespace.clear()


def test_the_reference_names_every_public_name() -> None:
    import fireworks_training
    from fireworks_training import client, deployment, fireworks_client, sampling, trainer
    from fireworks_training import weight_syncer as syncer_module

    page = (ROOT / "docs" / "reference.md").read_text()
    root = page.split("## Drop-in module paths")[0]
    missing = [n for n in fireworks_training.__all__ if f"`{n}`" not in root]
    assert missing == []
    for module in (client, trainer, fireworks_client, deployment, syncer_module, sampling):
        row = next(line for line in page.splitlines() if f"`{module.__name__}`" in line)
        assert [n for n in module.__all__ if f"`{n}`" not in row] == [], module.__name__
