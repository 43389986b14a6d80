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
    "Comparison",
    "Stopwatch",
    "compare",
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


@dataclass
class Comparison:
    """The seconds of each side, round by round, in the order they were first given."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def median(self, side: str) -> float:
        """The median seconds of one side."""
        return statistics.median(self.seconds[side])

    def ratio(self, side: str, baseline: str) -> float:
        """Median over rounds of ``side / baseline``, each round's pair measured back to back."""
        pairs = zip(self.seconds[side], self.seconds[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)

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
