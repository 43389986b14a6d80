"""Alternating, repeated timing of two or more sides of one comparison.

Every side runs in the same process run, round after round, in forward then reverse order
(A B, B A, A B, ...), so that a machine getting slower or faster during the run weighs on
every side alike. A round's ratio is taken between sides measured back to back, and the
reported ratio is the median of the rounds' ratios: one noisy round cannot decide it.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = [
    "FASTER",
    "Comparison",
    "Stopwatch",
    "compare",
    "faster",
    "current_rss_mib",
    "os_thread_count",
    "peak_rss_mib",
    "timed",
    "traced_peak",
]

T = TypeVar("T")

# A side returns the seconds it measured itself (a subprocess times only its own work), or
# None to be timed from the outside.
Side = Callable[[], float | None]

# The target of a "faster than" row. A median ratio under 1 is not enough: on this machine
# the rounds of a tie scatter on both sides of 1 (0.83-1.29 in one run) and their median
# lands under 1 about half the time. Faster means faster in at least three rounds of four.
FASTER = "faster: < 1x in 3 rounds of 4"


def faster(ratios: list[float]) -> tuple[bool, str]:
    """Whether the rounds' ratios show one side faster, and their middle half as text.

    Met when the upper quartile of the per-round ratios is below 1.
    """
    if len(ratios) < 2:  # a smoke run's single round
        return bool(ratios) and ratios[0] < 1.0, "one round"
    low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
    return high < 1.0, f"middle half of rounds {low:.2f}-{high:.2f}"


@dataclass
class Comparison:
    """The seconds of each side, round by round, in the order they were first given."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def median(self, side: str) -> float:
        """The median seconds of one side."""
        return statistics.median(self.seconds[side])

    def ratio(self, side: str, baseline: str) -> float:
        """Median over rounds of ``side / baseline``, each round's pair measured back to back."""
        return statistics.median(self.ratios(side, baseline))

    def ratios(self, side: str, baseline: str) -> list[float]:
        """Each round's ``side / baseline``."""
        pairs = zip(self.seconds[side], self.seconds[baseline], strict=True)
        return [a / b for a, b in pairs]

    def spread(self, side: str) -> float:
        """(max - min) / median of one side: how noisy its rounds were."""
        values = self.seconds[side]
        return (max(values) - min(values)) / self.median(side)

    @property
    def rounds(self) -> int:
        """How many rounds were recorded."""
        return min((len(v) for v in self.seconds.values()), default=0)


def _run_side(side: Side) -> float:
    gc.collect()
    start = time.perf_counter()
    measured = side()
    elapsed = time.perf_counter() - start
    return elapsed if measured is None else measured


def compare(sides: Mapping[str, Side], rounds: int, *, warmup: int = 1) -> Comparison:
    """Run every side ``warmup`` times unrecorded, then ``rounds`` alternating rounds."""
    names = list(sides)
    for _ in range(warmup):
        for name in names:
            _run_side(sides[name])
    result = Comparison({name: [] for name in names})
    for index in range(rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            result.seconds[name].append(_run_side(sides[name]))
    return result


class Stopwatch:
    """Seconds since construction."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since construction."""
        return time.perf_counter() - self._start


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds, value) of one call."""
    watch = Stopwatch()
    value = fn()
    return watch.elapsed(), value


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


def current_rss_mib() -> float:
    """This process's resident set size now, in MiB (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return peak_rss_mib()
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def os_thread_count() -> int:
    """Threads of this process as the OS sees them (native ones included), else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


@contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Peak bytes allocated by Python inside the block, put in the yielded list on exit."""
    out: list[int] = []
    gc.collect()
    tracemalloc.start()
    try:
        yield out
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append(peak)
