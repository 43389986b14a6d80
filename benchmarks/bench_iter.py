"""``iter_checkpoints`` over many rows: peak memory, at two row counts, against one page.

Each size runs in a fresh interpreter (``python -m benchmarks.bench_iter URL KEY ACCOUNT
JOB PAGE_SIZE``) so that nothing of the other size is still allocated. Memory is the peak
of Python allocations (tracemalloc) while iterating every row, counting them and dropping
each; "one page" is the peak of fetching the first page alone with the same client.

Every listing is iterated twice, and both passes are held to the targets. The second pass,
traced on from the first so that what it evicts counts as freed, is the steady state of a
long process. The first pass is a fresh one's: it used to also fill ``urllib.parse``'s
128-URL cache, one entry a page, through httpx's cookie handling, which a pool of the
client's own now skips unless a reply sets a cookie; the cache's size is reported.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
import urllib.parse
from typing import Any

from .emulator_proc import EmulatorProcess
from .harness import timed, traced_peak
from .report import Config, Result, Row

__all__ = ["run"]

MAX_PAGES = 2.0  # peak while iterating, in pages: "a page or two"
MAX_GROWTH = 1.1  # peak at the large size over the peak at the small one


def _child(base_url: str, api_key: str, account: str, job: str, page_size: int) -> dict[str, Any]:
    from fireworks_training import FireworksClient

    with FireworksClient(api_key, base_url, account_id=account) as client:
        next(iter(client.iter_checkpoints(job, page_size=page_size).pages))  # warm-up
        with traced_peak() as one_page:
            first = next(iter(client.iter_checkpoints(job, page_size=page_size).pages))
            del first

        def iterate() -> int:
            n = 0
            for _ in client.iter_checkpoints(job, page_size=page_size):
                n += 1
            return n

        url_cache = urllib.parse.urlsplit.cache_info  # type: ignore[attr-defined]  # lru_cache
        cached_before = url_cache().currsize
        # One trace over both passes, so that the second pass's cache evictions free what the
        # first pass allocated (tracemalloc only subtracts what it saw allocated).
        gc.collect()
        tracemalloc.start()
        try:
            seconds, rows = timed(iterate)
            cold_peak = tracemalloc.get_traced_memory()[1]
            cached_after = url_cache().currsize
            gc.collect()
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            steady_seconds, steady_rows = timed(iterate)
            steady_peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    return {
        "rows": rows,
        "steady_rows": steady_rows,
        "peak": steady_peak,
        "cold_peak": cold_peak,
        "page_peak": one_page[0],
        "seconds": steady_seconds,
        "cold_seconds": seconds,
        "url_cache": [cached_before, cached_after, url_cache().maxsize],
    }


def _measure(emu: EmulatorProcess, job: str, page_size: int) -> dict[str, Any]:
    args = [emu.base_url, emu.api_key, emu.account_id, job, str(page_size)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_iter", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    reply: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return reply


def run(config: Config) -> Result:
    """Peak memory of iterating every row at the two sizes of ``config.iter_rows``."""
    result = Result("iter_checkpoints memory")
    small, large = config.iter_rows
    measured: dict[int, dict[str, Any]] = {}
    with EmulatorProcess() as emu:
        for n in (small, large):
            job = emu.call("create_trainer_job", job_id=f"bench-iter-{n}")
            emu.call("add_checkpoint_rows", job, n)
            measured[n] = _measure(emu, job, config.page_size)
            if measured[n]["rows"] != n or measured[n]["steady_rows"] != n:
                raise RuntimeError(f"iterated {measured[n]['rows']} rows, expected {n}")
    raw = {str(n): m for n, m in measured.items()}
    for n in (small, large):
        m = measured[n]
        pages = m["peak"] / m["page_peak"]
        result.rows.append(
            Row(
                f"`iter_checkpoints`, {n:,} rows (pages of {config.page_size})",
                f"peak {m['peak'] / 1024:.0f} KiB while iterating; one page "
                f"{m['page_peak'] / 1024:.0f} KiB; {m['seconds']:.2f} s; first pass "
                f"{m['cold_peak'] / 1024:.0f} KiB (URL cache {m['url_cache'][0]} → "
                f"{m['url_cache'][1]} of {m['url_cache'][2]})",
                f"{pages:.2f} pages",
                f"≤ {MAX_PAGES:g} pages",
                pages <= MAX_PAGES,
            )
        )
    growth = measured[large]["peak"] / measured[small]["peak"]
    cold_growth = measured[large]["cold_peak"] / measured[small]["cold_peak"]
    result.rows.append(
        Row(
            "`iter_checkpoints` peak memory vs row count",
            f"peak {measured[small]['peak'] / 1024:.0f} KiB at {small:,} rows, "
            f"{measured[large]['peak'] / 1024:.0f} KiB at {large:,} rows",
            f"{growth:.2f}x for {large // small}x the rows",
            f"independent of the row count (≤ {MAX_GROWTH}x)",
            growth <= MAX_GROWTH,
        )
    )
    cache = {n: measured[n]["url_cache"] for n in (small, large)}
    result.rows.append(
        Row(
            "`iter_checkpoints` peak memory vs row count, first pass of a fresh interpreter",
            f"peak {measured[small]['cold_peak'] / 1024:.0f} KiB at {small:,} rows, "
            f"{measured[large]['cold_peak'] / 1024:.0f} KiB at {large:,} rows; urllib's URL "
            f"cache {cache[small][0]} → {cache[small][1]} and {cache[large][0]} → "
            f"{cache[large][1]} entries (of {cache[large][2]})",
            f"{cold_growth:.2f}x for {large // small}x the rows",
            f"independent of the row count (≤ {MAX_GROWTH}x)",
            cold_growth <= MAX_GROWTH,
        )
    )
    result.raw["iter"] = raw
    result.notes.append(
        "Each size is iterated in a fresh interpreter; memory is the peak of Python "
        "allocations (tracemalloc) while iterating and counting every row (the time includes "
        "tracemalloc's own cost), compared with the peak of fetching one page. Each listing "
        "is iterated twice, and both passes are held to the targets: the second (the "
        "steady state of a long process) per size, and the first (a fresh process's) for "
        "its growth with the row count. httpx's cookie handling parses every request URL "
        "with `urllib.parse.urlsplit`, whose cache keeps the last 128 URLs; a pool of the "
        "client's own skips it unless a reply sets a cookie, so a first pass no longer "
        "grows that cache by an entry a page (1.29x for 10x the rows at 1578a46)."
    )
    return result


if __name__ == "__main__":
    url, key, account, job_id, size = sys.argv[1:6]
    print(json.dumps(_child(url, key, account, job_id, int(size))))
