"""Re-run the profiles behind the explanations in ``optimisations.md``.

    python -m benchmarks.profile NAME [--smoke] [--out FILE]

NAME is ``import`` or ``import-client`` (the import statement in a fresh interpreter, plus
the ``-X importtime`` modules that cost most), ``list`` (three ``list_checkpoints`` of 10,000
rows; ``list-async`` the same with the async client), ``save`` (300 sequential
``save_state(...).result()``, the client's loop thread and the calling thread) or
``iter-memory`` (what is still allocated, by line, near the end of an ``iter_checkpoints``
over 40,000 rows: what the peak is made of). The report is pyinstrument's text
(tracemalloc's for ``iter-memory``), printed or written to FILE; needs pyinstrument (the
``bench`` dependency group). ``--smoke`` shrinks the sizes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .bench_import import OURS, OURS_CLIENT, child_env
from .report import FULL, SMOKE, Config

__all__ = ["PROFILES", "main"]

LISTINGS = 3
SAVES = 300
IMPORT_INTERVAL_S = 0.0002
INTERVAL_S = 0.001
IMPORTTIME_SHARE = 0.02  # ``-X importtime`` lists modules over this share of the total

_IMPORT_CHILD = (
    "import sys\n"
    "from pyinstrument import Profiler\n"
    "profiler = Profiler(interval=float(sys.argv[2]))\n"
    "profiler.start()\n"
    "exec(sys.argv[1])\n"
    "profiler.stop()\n"
    "print(profiler.output_text(unicode=True, color=False))\n"
)


def _profiler(**options: Any) -> Any:
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit(
            "benchmarks.profile needs pyinstrument: pip install --group bench"
        ) from None
    return Profiler(**options)


def _text(profiler: Any) -> str:
    return str(profiler.output_text(unicode=True, color=False))


def _importtime(statement: str) -> str:
    """``-X importtime`` as a tree, parents first, of the modules that cost most."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    rows: list[tuple[int, int, str]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), int(own), name.rstrip()))
    total_us = sum(own for _, own, _ in rows)
    # Python prints a module after its imports: reversed, every parent comes before them.
    shown = [row for row in reversed(rows) if row[0] >= IMPORTTIME_SHARE * total_us]
    lines = [f"-X importtime: {len(rows)} modules, {total_us / 1e3:.0f} ms of imports", ""]
    lines.append(f"{'cumulative':>10} {'own':>8}  module (indented under its importer)")
    lines += [f"{c / 1e3:>8.1f}ms {o / 1e3:>6.1f}ms  {n}" for c, o, n in shown]
    return "\n".join(lines)


def _import(statement: str) -> Callable[[Config], str]:
    def profile(config: Config) -> str:
        _profiler()  # fail early, with the install hint, when pyinstrument is missing
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_CHILD, statement, str(IMPORT_INTERVAL_S)],
            capture_output=True,
            text=True,
            check=True,
            env=child_env(),
        )
        note = "(pyinstrument is imported before the statement: what it loads looks free)"
        return f"{out.stdout.rstrip()}\n{note}\n\n{_importtime(statement)}"

    return profile


def _list(config: Config) -> str:
    from fireworks_training import FireworksClient

    from .emulator_proc import EmulatorProcess

    profiler = _profiler(interval=INTERVAL_S)
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="profile-list")
        emu.call("add_checkpoint_rows", job, config.rows)
        with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as client:
            client.list_checkpoints(job, page_size=config.page_size)  # warm-up
            profiler.start()
            for _ in range(LISTINGS):
                client.list_checkpoints(job, page_size=config.page_size)
            profiler.stop()
    sizes = f"{LISTINGS} listings of {config.rows:,} rows (pages of {config.page_size})"
    return f"{sizes}\n\n{_text(profiler)}"


def _list_async(config: Config) -> str:
    import asyncio

    from fireworks_training import AsyncFireworksClient

    from .emulator_proc import EmulatorProcess

    profiler = _profiler(interval=INTERVAL_S)
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="profile-list-async")
        emu.call("add_checkpoint_rows", job, config.rows)

        async def listings() -> None:
            async with AsyncFireworksClient(
                emu.api_key, emu.base_url, account_id=emu.account_id
            ) as client:
                await client.list_checkpoints(job, page_size=config.page_size)  # warm-up
                profiler.start()
                for _ in range(LISTINGS):
                    await client.list_checkpoints(job, page_size=config.page_size)
                profiler.stop()

        asyncio.run(listings())
    sizes = f"{LISTINGS} async listings of {config.rows:,} rows (pages of {config.page_size})"
    return f"{sizes}\n\n{_text(profiler)}"


async def _call(fn: Callable[[], object]) -> None:
    fn()


def _save(config: Config) -> str:
    from fireworks_training import FiretitanServiceClient

    from .bench_trainer import BASE_MODEL, LORA_RANK
    from .emulator_proc import EmulatorProcess

    saves = config.saves if config.smoke else SAVES
    caller = _profiler(interval=INTERVAL_S)
    # Started on the loop thread, outside any task's context: it samples the whole thread.
    on_loop = _profiler(interval=INTERVAL_S, async_mode="disabled")
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="profile-saves", lora_rank=LORA_RANK)
        with FiretitanServiceClient(emu.trainer_url(job), emu.api_key) as service:
            client = service.create_training_client(BASE_MODEL, lora_rank=LORA_RANK)
            client.save_state("warm-up", overwrite=True).result()
            runner = client._conn.runner
            runner.run(_call(on_loop.start))
            caller.start()
            for i in range(saves):
                # A few names in turn, as the benchmark (new names make the emulator's work
                # grow), replaced explicitly: a trainer refuses an existing one otherwise.
                client.save_state(f"profile-{i % 8}", overwrite=True).result()
            caller.stop()
            runner.run(_call(on_loop.stop))
    return (
        f"{saves} saves, LoRA rank {LORA_RANK}\n\n## loop thread\n\n{_text(on_loop)}\n"
        f"## calling thread\n\n{_text(caller)}"
    )


ITER_ROWS = 40_000
ITER_TOP = 10


def _iter_memory(config: Config) -> str:
    import gc
    import tracemalloc

    from fireworks_training import FireworksClient

    from .emulator_proc import EmulatorProcess

    rows = config.iter_rows[1] if config.smoke else ITER_ROWS
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="profile-iter")
        emu.call("add_checkpoint_rows", job, rows)
        with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as client:
            for _ in client.iter_checkpoints(job, page_size=config.page_size):  # warm-up
                pass
            gc.collect()
            tracemalloc.start(8)
            before = tracemalloc.take_snapshot()
            for i, _ in enumerate(client.iter_checkpoints(job, page_size=config.page_size)):
                if i == rows - config.page_size // 2:  # mid last page: the listing is alive
                    break
            gc.collect()
            after = tracemalloc.take_snapshot()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    lines = [
        f"iter_checkpoints over {rows:,} rows (pages of {config.page_size}), stopped in the "
        f"last page; peak {peak / 1024:.0f} KiB. Still allocated, largest first "
        "(the allocating line, then the caller frames):",
        "",
    ]
    for stat in after.compare_to(before, "traceback")[:ITER_TOP]:
        lines.append(str(stat))
        lines += [f"    {frame}" for frame in stat.traceback.format()[-6:]]
    return "\n".join(lines)


PROFILES: dict[str, tuple[str, Callable[[Config], str]]] = {
    "import": (f"`{OURS}` in a fresh interpreter", _import(OURS)),
    "import-client": (f"`{OURS_CLIENT}` in a fresh interpreter", _import(OURS_CLIENT)),
    "list": ("sync list_checkpoints against the emulator", _list),
    "list-async": ("async list_checkpoints against the emulator", _list_async),
    "save": ("sequential save_state(...).result() against the emulator", _save),
    "iter-memory": ("what an iter_checkpoints holds near its end", _iter_memory),
}


def main(argv: list[str] | None = None) -> int:
    """Run one profile and print (or write) its text report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("name", choices=sorted(PROFILES))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--out", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    config = SMOKE if args.smoke else FULL
    what, profile = PROFILES[args.name]
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    header = [
        f"# profile {args.name}{' (smoke sizes)' if args.smoke else ''}: {what}",
        f"# Python {sys.version.split()[0]}, {when} UTC",
        "",
    ]
    text = "\n".join(header) + profile(config).rstrip() + "\n"
    if args.out is None:
        print(text, end="")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
