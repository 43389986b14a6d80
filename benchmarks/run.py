"""Run every benchmark and write ``RESULTS.md`` and ``ratios.png``.

    python -m benchmarks.run [--smoke] [--out DIR] [--only NAME ...]

``--smoke`` runs tiny sizes without the official client, only to prove the scripts work (its
numbers mean nothing); it draws the chart when matplotlib is installed. A full run needs
matplotlib (the ``bench`` dependency group). Everything measured is also saved to
``results.json``; ``python -m benchmarks.report --from DIR/results.json`` rewrites the report
from it without running anything.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import (
    bench_blobs,
    bench_import,
    bench_iter,
    bench_list,
    bench_promotion,
    bench_remote_ledger,
    bench_resume,
    bench_trainer,
    bench_weight_sync,
)
from .official import OfficialClient, official_client
from .report import FULL, SMOKE, Config, Result, save_results, write_report

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
NO_MATPLOTLIB = "matplotlib is not installed (pip install --group bench)"

Bench = Callable[[Config, OfficialClient | None], Result]
BENCHMARKS: dict[str, Bench] = {
    "list": bench_list.run,
    "iter": lambda config, _: bench_iter.run(config),
    "trainer": bench_trainer.run,
    "promotion": bench_promotion.run,
    "resume": lambda config, _: bench_resume.run(config),
    "remote-ledger": lambda config, _: bench_remote_ledger.run(config),
    "import": bench_import.run,
    "blobs": lambda config, _: bench_blobs.run(config),
    "weight_sync": bench_weight_sync.run,
}


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine(official: str) -> dict[str, str]:
    """Where and with what the numbers were taken."""
    return {
        "CPUs": str(os.cpu_count()),
        "Python": sys.version.split()[0],
        "platform": platform.platform(),
        "fireworks-training": _version("fireworks-training"),
        "httpx": _version("httpx"),
        "pydantic": _version("pydantic"),
        "tinker": _version("tinker"),
        "official client": official,
        "date (UTC)": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 once the results are written (missed targets included)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; proves the scripts")
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md goes")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), default=None)
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else FULL
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if not config.smoke and not has_matplotlib:
        parser.error(f"the chart needs matplotlib: {NO_MATPLOTLIB}")  # before, not after, the run
    start = time.perf_counter()

    official: OfficialClient | None = None
    if config.official:
        official, why = official_client()
        official_text = why if official is not None else f"not measured ({why})"
        print(f"official client: {official_text}", flush=True)
    else:
        official_text = "not measured (smoke mode)"
        print("smoke mode: the official client is skipped", flush=True)

    results: list[Result] = []
    for name in args.only or list(BENCHMARKS):
        print(f"running {name} ...", flush=True)
        began = time.perf_counter()
        result = BENCHMARKS[name](config, official)
        for row in result.rows:
            print(f"  {row.benchmark}: {row.result} (target {row.target})", flush=True)
        print(f"  ({time.perf_counter() - began:.1f} s)", flush=True)
        results.append(result)

    preamble = [
        "Written by `make bench` (`python -m benchmarks.run`). Every comparison runs its sides "
        "in the same process run, alternating (A B, B A, ...), after a warm-up; the numbers are "
        "medians and each ratio is the median of the per-round ratios. The emulator serves "
        "from a separate process on loopback, so it does not share an interpreter lock with "
        "the client under test. The machine has 2 cores shared with other jobs: a ratio moves "
        'by about ±15 % from one run to the next. A "faster than" target is met only when '
        "the side is faster in at least three rounds of four (the upper quartile of the "
        "per-round ratios is under 1): the rounds of a tie scatter on both sides of 1, and "
        "their median alone would call a tie a win about half the time.",
        "Every round's raw timings are in `results.json` next to this file; "
        "`python -m benchmarks.report --from benchmarks/results.json` rewrites this report "
        "and the chart from it without running anything.",
    ]
    if config.smoke:
        preamble.append("**Smoke run: tiny sizes; these numbers mean nothing.**")
    if not has_matplotlib:
        print(f"no chart: {NO_MATPLOTLIB}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine(official_text)
    save_results(args.out / "results.json", results, info, preamble)
    print(f"wrote {args.out / 'results.json'}", flush=True)
    for path in write_report(args.out, results, info, preamble):
        print(f"wrote {path}", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
