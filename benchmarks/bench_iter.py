"""``iter_checkpoints`` over many rows: peak memory, at two row counts, against one page.

Each size runs in a fresh interpreter (``python -m benchmarks.bench_iter URL KEY ACCOUNT
JOB PAGE_SIZE``) so that nothing of the other size is still allocated. Memory is the peak
of Python allocations (tracemalloc) while iterating every row, counting them and dropping
each; "one page" is the peak of fetching the first page alone with the same client.
"""

from __future__ import annotations

import json
import subprocess
import sys
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

        with traced_peak() as whole:
            seconds, rows = timed(iterate)
    return {"rows": rows, "peak": whole[0], "page_peak": one_page[0], "seconds": seconds}


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
            if measured[n]["rows"] != n:
                raise RuntimeError(f"iterated {measured[n]['rows']} rows, expected {n}")
    raw = {str(n): m for n, m in measured.items()}
    for n in (small, large):
        m = measured[n]
        pages = m["peak"] / m["page_peak"]
        result.rows.append(
            Row(
                f"`iter_checkpoints`, {n:,} rows (pages of {config.page_size})",
                f"peak {m['peak'] / 1024:.0f} KiB while iterating; one page "
                f"{m['page_peak'] / 1024:.0f} KiB; {m['seconds']:.2f} s",
                f"{pages:.2f} pages",
                f"≤ {MAX_PAGES:g} pages",
                pages <= MAX_PAGES,
            )
        )
    growth = measured[large]["peak"] / measured[small]["peak"]
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
    result.raw["iter"] = raw
    result.notes.append(
        "Each size is iterated in a fresh interpreter; memory is the peak of Python "
        "allocations (tracemalloc) while iterating and counting every row (the time includes "
        "tracemalloc's own cost), compared with the peak of fetching one page."
    )
    return result


if __name__ == "__main__":
    url, key, account, job_id, size = sys.argv[1:6]
    print(json.dumps(_child(url, key, account, job_id, int(size))))
