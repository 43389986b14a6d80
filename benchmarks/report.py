"""What a benchmark hands back, and ``RESULTS.md`` and the chart made from it.

A run also saves everything it measured to ``results.json`` (every row, bar and note, and
each comparison's seconds round by round); the report is regenerated from it without
running anything:

    python -m benchmarks.report --from benchmarks/results.json [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Bar",
    "Config",
    "Result",
    "Row",
    "load_results",
    "main",
    "render_chart",
    "render_markdown",
    "save_results",
    "write_report",
]

HERE = Path(__file__).resolve().parent
OPTIMISATIONS = HERE / "optimisations.md"
CHART = "ratios.png"


@dataclass(frozen=True)
class Config:
    """Sizes and repeats of one run (``smoke`` shrinks everything)."""

    smoke: bool
    rounds: int
    rows: int
    page_size: int
    saves: int
    in_flight: int
    promotion_s: float
    promotion_rounds: int
    ledger_lines: tuple[int, int]
    import_rounds: int
    official: bool
    iter_rows: tuple[int, int]
    pipelined: int
    trainer_rounds: int


FULL = Config(
    smoke=False,
    rounds=7,
    rows=10_000,
    page_size=200,
    saves=500,
    in_flight=1_000,
    promotion_s=2.0,
    promotion_rounds=3,
    ledger_lines=(10_000, 100_000),
    import_rounds=10,
    official=True,
    iter_rows=(10_000, 100_000),
    pipelined=1_000,
    trainer_rounds=5,
)
SMOKE = Config(
    smoke=True,
    rounds=2,
    rows=200,
    page_size=50,
    saves=20,
    in_flight=50,
    promotion_s=0.2,
    promotion_rounds=1,
    ledger_lines=(500, 2_000),
    import_rounds=2,
    official=False,
    iter_rows=(200, 1_000),
    pipelined=20,
    trainer_rounds=1,
)


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    benchmark: str
    measured: str
    result: str
    target: str
    met: bool | None  # None: no target, or the comparison could not run


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: a ratio and the target it must stay under (or reach)."""

    label: str
    ratio: float
    target: float
    higher_is_better: bool = False
    reference: bool = False  # drawn grey: a baseline's own number, not a target of ours

    @property
    def met(self) -> bool:
        """Whether the ratio is on the right side of its target."""
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


@dataclass
class Result:
    """What one benchmark module measured."""

    title: str
    rows: list[Row] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What was measured, unrounded: {comparison: {side: [seconds of each round]}} and the like.
    raw: dict[str, Any] = field(default_factory=dict)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "—"}[met]


def render_markdown(
    results: Sequence[Result],
    machine: dict[str, str],
    preamble: Sequence[str],
    chart: str | None = None,
) -> str:
    """The whole ``RESULTS.md``; ``chart`` is the chart's path relative to it, if drawn."""
    lines = ["# Benchmark results", ""]
    for paragraph in preamble:
        lines += [paragraph, ""]
    lines += ["| benchmark | measured (medians) | result | target | |", "|---|---|---|---|---|"]
    for result in results:
        for row in result.rows:
            cells = [row.benchmark, row.measured, row.result, row.target, _verdict(row.met)]
            lines.append("| " + " | ".join(cells) + " |")
    if chart is not None:
        lines += ["", f"![Main ratios against their targets]({chart})"]
    lines += ["", "## Machine and versions", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    for result in results:
        if result.notes:
            lines += ["", f"## {result.title}", "", *result.notes]
    return "\n".join(lines) + "\n"


def render_chart(results: Sequence[Result], path: Path) -> bool:
    """A horizontal bar chart of the main ratios, each with its target marked; False if none."""
    bars = [bar for result in results for bar in result.bars]
    if not bars:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.55 * len(bars) + 1.5))
    positions = list(range(len(bars)))[::-1]
    colors = ["tab:gray" if b.reference else "tab:green" if b.met else "tab:red" for b in bars]
    ax.barh(positions, [b.ratio for b in bars], color=colors)
    for pos, bar in zip(positions, bars, strict=True):
        ax.plot([bar.target, bar.target], [pos - 0.4, pos + 0.4], color="black", linewidth=2)
        ax.text(bar.ratio, pos, f" {bar.ratio:.2f}x", va="center", fontsize=8)
    ax.set_yticks(positions, [b.label for b in bars], fontsize=8)
    ax.set_xscale("log")
    # Room on the right for the largest bar's label (the axis is logarithmic).
    ax.set_xlim(right=max(max(b.ratio for b in bars), max(b.target for b in bars)) * 3)
    ax.set_xlabel("ratio (log scale); black mark = target")
    ax.set_title(
        "fireworks-training benchmark ratios\n(green = target met, red = missed, grey = reference)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def save_results(
    path: Path,
    results: Sequence[Result],
    machine: dict[str, str],
    preamble: Sequence[str],
) -> None:
    """Everything a report is made from, as JSON."""
    payload = {
        "machine": machine,
        "preamble": list(preamble),
        "results": [dataclasses.asdict(result) for result in results],
    }
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def load_results(path: Path) -> tuple[list[Result], dict[str, str], list[str]]:
    """The results, machine and preamble saved by :func:`save_results`."""
    payload = json.loads(path.read_text())
    results = [
        Result(
            title=r["title"],
            rows=[Row(**row) for row in r["rows"]],
            bars=[Bar(**bar) for bar in r["bars"]],
            notes=list(r["notes"]),
            raw=dict(r.get("raw", {})),
        )
        for r in payload["results"]
    ]
    return results, dict(payload["machine"]), list(payload["preamble"])


def write_report(
    out: Path, results: Sequence[Result], machine: dict[str, str], preamble: Sequence[str]
) -> list[Path]:
    """``RESULTS.md`` (with ``optimisations.md`` appended) and, with matplotlib, the chart."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    chart: str | None = None
    if importlib.util.find_spec("matplotlib") is not None and render_chart(results, out / CHART):
        chart = CHART
        written.append(out / CHART)
    text = render_markdown(results, machine, preamble, chart)
    if OPTIMISATIONS.exists():
        text += "\n" + OPTIMISATIONS.read_text()
    (out / "RESULTS.md").write_text(text)
    written.append(out / "RESULTS.md")
    return written


def main(argv: list[str] | None = None) -> int:
    """Regenerate ``RESULTS.md`` and the chart from a saved ``results.json``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, default=HERE / "results.json")
    parser.add_argument("--out", type=Path, default=None, help="default: next to the JSON")
    args = parser.parse_args(argv)
    results, machine, preamble = load_results(args.source)
    for path in write_report(args.out or args.source.parent, results, machine, preamble):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
