"""Resume lookup in a long ``checkpoints.jsonl``: read backwards vs read the whole file.

The lookup is what ``TrainingCheckpoints.resume`` asks of the ledger: the newest record with a
state path. Shown at two file sizes: its time and memory must not grow with the file.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from fireworks_training.checkpoints.ledger import Ledger, LedgerRecord

from .harness import compare, traced_peak
from .report import Config, Result, Row

__all__ = ["run"]

TARGET_MS = 50.0
STATE_EVERY = 10  # one record in ten has a state save; the others are sampler-only


def write_ledger(path: Path, lines: int) -> None:
    """A ledger of ``lines`` records, the newest of them a sampler-only one."""
    with (path / "checkpoints.jsonl").open("wb") as f:
        for step in range(lines):
            name = f"step-{step}"
            fields = {
                "name": name,
                "step": step,
                "data_consumed": step * 32,
                "sampler_path": f"{name}-0a1b2c3d",
                "source_job_id": "job-1",
                "base_model": "accounts/fireworks/models/qwen3-8b",
            }
            if step % STATE_EVERY == STATE_EVERY - 3:
                fields["state_path"] = f"tinker://job-1/weights/{name}"
            f.write(LedgerRecord.model_validate(fields).to_line())


def lookup(ledger: Ledger) -> LedgerRecord | None:
    """The newest record with a state save, reading backwards (what resume does)."""
    return next((r for r in ledger.newest_first() if r.state_path is not None), None)


def whole_file(ledger: Ledger) -> LedgerRecord | None:
    """The same answer from every line of the file, decoded."""
    with ledger.path.open("rb") as f:
        records = [json.loads(line) for line in f if line.strip()]
    newest = next((r for r in reversed(records) if r.get("state_path") is not None), None)
    return None if newest is None else LedgerRecord.model_validate(newest)


Lookup = Callable[[Ledger], LedgerRecord | None]


def _side(fn: Lookup, ledger: Ledger) -> Callable[[], None]:
    def side() -> None:
        fn(ledger)

    return side


def _peak_kib(fn: Lookup, ledger: Ledger) -> float:
    with traced_peak() as peak:
        fn(ledger)
    return peak[0] / 1024


def run(config: Config) -> Result:
    """Both ways at both sizes."""
    result = Result("Resume lookup")
    measured: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        for lines in config.ledger_lines:
            folder = Path(tmp) / str(lines)
            folder.mkdir()
            write_ledger(folder, lines)
            ledger = Ledger(folder)
            if lookup(ledger) != whole_file(ledger):
                raise RuntimeError("the two lookups disagree")
            times = compare(
                {"backwards": _side(lookup, ledger), "whole": _side(whole_file, ledger)},
                config.rounds,
            )
            measured[lines] = {
                "backwards_ms": times.median("backwards") * 1e3,
                "whole_ms": times.median("whole") * 1e3,
                "backwards_kib": _peak_kib(lookup, ledger),
                "whole_kib": _peak_kib(whole_file, ledger),
                "file_mib": ledger.path.stat().st_size / 2**20,
            }
    small, large = config.ledger_lines
    for lines in config.ledger_lines:
        m = measured[lines]
        result.rows.append(
            Row(
                f"resume lookup, {lines:,}-line checkpoints.jsonl ({m['file_mib']:.1f} MiB)",
                f"backwards {m['backwards_ms']:.2f} ms, peak {m['backwards_kib']:.0f} KiB; "
                f"whole file {m['whole_ms']:.1f} ms, peak {m['whole_kib']:.0f} KiB",
                f"{m['backwards_ms']:.2f} ms",
                f"≤ {TARGET_MS:g} ms",
                m["backwards_ms"] <= TARGET_MS,
            )
        )
    growth = measured[large]["backwards_kib"] / measured[small]["backwards_kib"]
    result.rows.append(
        Row(
            "resume lookup memory vs file size",
            f"peak {measured[small]['backwards_kib']:.0f} KiB at {small:,} lines, "
            f"{measured[large]['backwards_kib']:.0f} KiB at {large:,} lines "
            f"(whole file: {measured[large]['whole_kib'] / measured[small]['whole_kib']:.1f}x)",
            f"{growth:.2f}x for {large // small}x the lines",
            "independent of file size (≤ 1.1x)",
            growth <= 1.1,
        )
    )
    result.notes.append(
        f"One record in {STATE_EVERY} carries a state path, the newest such record sits 3 lines "
        "from the end. Memory is the peak of Python allocations (tracemalloc) during one lookup; "
        f"time is the median of {config.rounds} alternating rounds."
    )
    return result
