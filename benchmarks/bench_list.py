"""``list_checkpoints`` of many rows: ours (sync and async), a bare httpx loop, the official client.

The bare loop fetches the same pages and decodes their JSON, nothing more: the floor any
client pays. Ours also wraps every row as a ``Checkpoint`` (a dict with typed properties).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from fireworks_training import AsyncFireworksClient, FireworksClient

from .emulator_proc import EmulatorProcess
from .harness import FASTER, Comparison, Side, compare, faster
from .official import OfficialClient
from .report import Bar, Config, Result, Row

__all__ = ["run"]

TARGET_VS_HTTPX = 1.05
# Calls timed in each fresh interpreter after its warm-up; their median is its round's time.
# One call of a fresh process is at the mercy of a single scheduling hiccup on a shared
# machine (single rounds ranged 0.69-1.36x); both sides run the same count.
TIMED_CALLS = 5
_TIMED = f"TIMED = {TIMED_CALLS}\n"

OFFICIAL_LIST = (
    _TIMED
    + """
import json, sys, time
from fireworks.training.sdk.fireworks_client import FireworksClient

base_url, key, job_id, page_size, expected = sys.argv[1:6]
client = FireworksClient(api_key=key, base_url=base_url)
client.list_checkpoints(job_id, page_size=int(page_size))  # warm: account, connection
times = []
for _ in range(TIMED):
    start = time.perf_counter()
    rows = client.list_checkpoints(job_id, page_size=int(page_size))
    times.append(time.perf_counter() - start)
    assert len(rows) == int(expected), len(rows)
print(json.dumps({"seconds": sorted(times)[len(times) // 2]}))
"""
)


# The same driver with our client, so that both clients are timed in a fresh interpreter.
OURS_LIST = OFFICIAL_LIST.replace(
    "from fireworks.training.sdk.fireworks_client import FireworksClient",
    "from fireworks_training import FireworksClient",
)


# The async client in a fresh interpreter, against the same (sync-only) official client.
OURS_ASYNC_LIST = (
    _TIMED
    + """
import asyncio, json, sys, time
from fireworks_training import AsyncFireworksClient

base_url, key, job_id, page_size, expected = sys.argv[1:6]

async def main():
    async with AsyncFireworksClient(key, base_url) as client:
        await client.list_checkpoints(job_id, page_size=int(page_size))  # warm-up
        times = []
        for _ in range(TIMED):
            start = time.perf_counter()
            rows = await client.list_checkpoints(job_id, page_size=int(page_size))
            times.append(time.perf_counter() - start)
            assert len(rows) == int(expected), len(rows)
    return sorted(times)[len(times) // 2]

print(json.dumps({"seconds": asyncio.run(main())}))
"""
)


# A bare httpx.AsyncClient page loop in a fresh interpreter, as the two scripts above: the
# floor of any asyncio client built on httpx, against the same (sync) official client.
BARE_ASYNC_LIST = (
    _TIMED
    + """
import asyncio, json, sys, time
import httpx

from benchmarks.bench_list import _bare_pages_async

base_url, key, job_id, page_size, expected, account = sys.argv[1:7]
path = f"/v1/accounts/{account}/rlorTrainerJobs/{job_id}/checkpoints"

async def listing(http):
    return await _bare_pages_async(http, path, int(page_size))

async def main():
    headers = {"X-Api-Key": key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        await listing(http)  # warm-up
        times = []
        for _ in range(TIMED):
            start = time.perf_counter()
            rows = await listing(http)
            times.append(time.perf_counter() - start)
            assert len(rows) == int(expected), len(rows)
    return sorted(times)[len(times) // 2]

print(json.dumps({"seconds": asyncio.run(main())}))
"""
)


REPO = Path(__file__).resolve().parent.parent


def _ours_in_subprocess(*args: str, script: str = OURS_LIST) -> float:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,  # the bare async script imports its loop from this module
    )
    seconds: float = json.loads(out.stdout.strip().splitlines()[-1])["seconds"]
    return seconds


def _bare_pages(http: httpx.Client, path: str, page_size: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": page_size}
        if token:
            params["pageToken"] = token
        response = http.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        rows.extend(body["checkpoints"])
        token = body.get("nextPageToken")
        if not token:
            return rows


async def _bare_pages_async(
    http: httpx.AsyncClient, path: str, page_size: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"pageSize": page_size}
        if token:
            params["pageToken"] = token
        response = await http.get(path, params=params)
        response.raise_for_status()
        body = response.json()
        rows.extend(body["checkpoints"])
        token = body.get("nextPageToken")
        if not token:
            return rows


def _check(n: int, expected: int) -> None:
    if n != expected:
        raise RuntimeError(f"listed {n} rows, expected {expected}")


def run(config: Config, official: OfficialClient | None) -> Result:
    """Sync and async listing against bare httpx, and the official client when there is one."""
    result = Result("list_checkpoints")
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="bench-list")
        emu.call("add_checkpoint_rows", job, config.rows)
        path = f"/v1/accounts/{emu.account_id}/rlorTrainerJobs/{job}/checkpoints"
        headers = {"X-Api-Key": emu.api_key}
        size, n = config.page_size, config.rows

        with (
            FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as ours,
            httpx.Client(base_url=emu.base_url, headers=headers, timeout=60) as bare,
        ):
            sides: dict[str, Side] = {
                "ours": lambda: _check(len(ours.list_checkpoints(job, page_size=size)), n),
                "httpx": lambda: _check(len(_bare_pages(bare, path, size)), n),
            }
            if official is not None:
                args = (emu.base_url, emu.api_key, job, str(size), str(n))
                sides["official"] = lambda: official.run(OFFICIAL_LIST, *args)["seconds"]
                sides["ours_fresh"] = lambda: _ours_in_subprocess(*args)
                sides["ours_async_fresh"] = lambda: _ours_in_subprocess(
                    *args, script=OURS_ASYNC_LIST
                )
                sides["httpx_async_fresh"] = lambda: _ours_in_subprocess(
                    *args, emu.account_id, script=BARE_ASYNC_LIST
                )
            sync = compare(sides, config.rounds)
        async_ = _compare_async(emu, job, path, headers, config)

    result.raw = {"sync": sync.seconds, "async": async_.seconds}
    pages = -(-n // size)
    label = f"list_checkpoints, {n:,} rows ({pages} pages of {size})"
    ratio = sync.ratio("ours", "httpx")
    measured = f"ours {sync.median('ours'):.3f} s; httpx {sync.median('httpx'):.3f} s"
    result.rows.append(
        Row(
            f"{label}, sync",
            measured,
            f"{ratio:.2f}x httpx",
            f"≤ {TARGET_VS_HTTPX}x httpx",
            ratio <= TARGET_VS_HTTPX,
        )
    )
    result.bars.append(Bar("list sync / bare httpx", ratio, TARGET_VS_HTTPX))
    if official is not None:
        vs = sync.ratio("ours_fresh", "official")
        met, middle = faster(sync.ratios("ours_fresh", "official"))
        result.rows.append(
            Row(
                f"{label}, sync, each client in a fresh interpreter",
                f"ours {sync.median('ours_fresh'):.3f} s; official {sync.median('official'):.3f} s",
                f"{vs:.2f}x official ({middle})",
                FASTER,
                met,
            )
        )
        result.bars.append(Bar("list sync / official client", vs, 1.0))
        avs = sync.ratio("ours_async_fresh", "official")
        met, middle = faster(sync.ratios("ours_async_fresh", "official"))
        result.rows.append(
            Row(
                f"{label}, async, each client in a fresh interpreter",
                f"ours {sync.median('ours_async_fresh'):.3f} s; "
                f"official (sync only) {sync.median('official'):.3f} s",
                f"{avs:.2f}x official ({middle})",
                FASTER,
                met,
            )
        )
        result.bars.append(Bar("list async / official client", avs, 1.0))
        floor = sync.ratio("httpx_async_fresh", "official")
        result.rows.append(
            Row(
                f"{label}, bare `httpx.AsyncClient` loop, fresh interpreter (the floor of an "
                "asyncio client on httpx)",
                f"httpx async {sync.median('httpx_async_fresh'):.3f} s; "
                f"official (sync only) {sync.median('official'):.3f} s; "
                f"ours async {sync.ratio('ours_async_fresh', 'httpx_async_fresh'):.2f}x it",
                f"{floor:.2f}x official",
                "— (reference)",
                None,
            )
        )
    else:
        result.notes.append("The official client was not measured in this run.")
    a_ratio = async_.ratio("ours", "httpx")
    result.rows.append(
        Row(
            f"{label}, async",
            f"ours {async_.median('ours'):.3f} s; httpx {async_.median('httpx'):.3f} s",
            f"{a_ratio:.2f}x httpx",
            f"≤ {TARGET_VS_HTTPX}x httpx",
            a_ratio <= TARGET_VS_HTTPX,
        )
    )
    result.bars.append(Bar("list async / bare httpx.AsyncClient", a_ratio, TARGET_VS_HTTPX))
    result.notes.append(
        f"{sync.rounds} alternating rounds after a warm-up; the official client (sync only) "
        "runs in its own interpreter, which makes one call to warm up and reports the median of "
        f"the {TIMED_CALLS} calls after it; for that comparison ours runs the same script in a "
        "fresh interpreter too."
    )
    return result


def _compare_async(
    emu: EmulatorProcess, job: str, path: str, headers: dict[str, str], config: Config
) -> Comparison:
    size, n = config.page_size, config.rows
    with asyncio.Runner() as runner:
        ours = AsyncFireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id)
        bare = httpx.AsyncClient(base_url=emu.base_url, headers=headers, timeout=60)

        async def ours_side() -> None:
            _check(len(await ours.list_checkpoints(job, page_size=size)), n)

        async def bare_side() -> None:
            _check(len(await _bare_pages_async(bare, path, size)), n)

        try:
            return compare(
                {
                    "ours": lambda: runner.run(ours_side()),
                    "httpx": lambda: runner.run(bare_side()),
                },
                config.rounds,
            )
        finally:
            runner.run(ours.close())
            runner.run(bare.aclose())
