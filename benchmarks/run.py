"""Run every benchmark and write ``RESULTS.md`` and ``ratios.png``.

    python -m benchmarks.run [--smoke] [--out DIR] [--only NAME ...]

``--smoke`` runs tiny sizes without the official client, only to prove the scripts work (its
numbers mean nothing); it draws the chart when matplotlib is installed. A full run needs
matplotlib (the ``bench`` dependency group).
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
    bench_list,
    bench_promotion,
    bench_remote_ledger,
    bench_resume,
    bench_trainer,
)
from .official import OfficialClient, official_client
from .report import FULL, SMOKE, Config, Result, render_chart, render_markdown

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
OPTIMISATIONS = HERE / "optimisations.md"
CHART = "ratios.png"
NO_MATPLOTLIB = "matplotlib is not installed (pip install --group bench)"

Bench = Callable[[Config, OfficialClient | None], Result]
BENCHMARKS: dict[str, Bench] = {
    "list": bench_list.run,
    "trainer": lambda config, _: bench_trainer.run(config),
    "promotion": bench_promotion.run,
    "resume": lambda config, _: bench_resume.run(config),
    "remote-ledger": lambda config, _: bench_remote_ledger.run(config),
    "import": bench_import.run,
    "blobs": lambda config, _: bench_blobs.run(config),
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

    args.out.mkdir(parents=True, exist_ok=True)
    preamble = [
        "Written by `make bench` (`python -m benchmarks.run`). Every comparison runs its sides "
        "in the same process run, alternating (A B, B A, ...), after a warm-up; the numbers are "
        "medians and each ratio is the median of the per-round ratios. The emulator serves "
        "from a separate process on loopback, so it does not share an interpreter lock with "
        "the client under test.",
    ]
    if config.smoke:
        preamble.append("**Smoke run: tiny sizes; these numbers mean nothing.**")
    chart: str | None = None
    if not has_matplotlib:
        print(f"no chart: {NO_MATPLOTLIB}", flush=True)
    elif render_chart(results, args.out / CHART):
        chart = CHART
        print(f"wrote {args.out / CHART}", flush=True)
    else:
        print("no chart: no ratios were measured", flush=True)
    text = render_markdown(results, machine(official_text), preamble, chart)
    if OPTIMISATIONS.exists():
        text += "\n" + OPTIMISATIONS.read_text()
    (args.out / "RESULTS.md").write_text(text)
    print(f"wrote {args.out / 'RESULTS.md'}", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
