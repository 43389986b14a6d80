"""Weight sync: a delta's hot-load against the server's own load time, and bytes per sync.

The emulator takes ``hotload_s`` to load any snapshot; the ratio is the client's wall time
for a whole sync of a delta (status read, signal, waiting until every replica serves it)
over that time. Each round trains one step and saves a delta of the same model, loaded by
our service client onto one deployment and by the official ``DeploymentManager`` (in its
own interpreter, timing only its ``hotload_and_wait``) onto another, both attached to the
job. Bytes moved per sync are the sizes of the snapshots loaded: the first (a base) and the
deltas after it.
"""

from __future__ import annotations

import statistics
import time

from fireworks_training import FiretitanServiceClient, FireworksClient
from fireworks_training.demo import ADAM, make_batch

from .emulator_proc import EmulatorProcess
from .official import OfficialClient
from .report import Bar, Config, Result, Row

__all__ = ["run"]

TARGET_VS_LOAD = 1.3
BASE_MODEL = "accounts/fireworks/models/tiny-bigram"

OFFICIAL_HOTLOAD = """
import json, sys, time
from fireworks.training.sdk import DeploymentManager

base_url, key, deployment, base_model, identity, previous = sys.argv[1:7]
manager = DeploymentManager(api_key=key, base_url=base_url)
manager.account_id  # resolved before the clock starts, as ours is
metadata = None
if previous != "-":
    metadata = {"previous_snapshot_identity": previous, "compression_format": "arc_v2",
                "checksum_format": "alder32"}
start = time.perf_counter()
ok = manager.hotload_and_wait(deployment, base_model, identity, metadata, timeout_seconds=120)
seconds = time.perf_counter() - start
assert ok, manager.last_hotload_error_message
print(json.dumps({"seconds": seconds}))
"""


def run(config: Config, official: OfficialClient | None) -> Result:
    """Rounds of train, save a delta, hot-load it with each client; then the sizes."""
    result = Result("Weight sync")
    load_s = 0.2 if config.smoke else 1.0
    rounds = config.rounds
    ours: list[float] = []
    theirs: list[float] = []
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="bench-sync")
        for deployment in ("bench-ours", "bench-official"):
            emu.call("create_deployment", deployment, hot_load_trainer_job=job)
        emu.call("set_hotload_seconds", load_s)

        def official_load(identity: str, previous: str | None) -> float:
            assert official is not None
            args = (emu.base_url, emu.api_key, "bench-official", BASE_MODEL, identity)
            reply = official.run(OFFICIAL_HOTLOAD, *args, previous or "-", timeout=300)
            return float(reply["seconds"])

        with FiretitanServiceClient(emu.trainer_url(job), emu.api_key) as service:
            service.attach_deployment("bench-ours", base_url=emu.base_url)
            trainer = service.create_training_client(BASE_MODEL)
            base = trainer.save_weights_for_sampler("sync-0").result().path
            service.hotload_sampler_snapshot(base)
            previous = None
            if official is not None:
                official_load(base, None)
                previous = base
            loaded = [base]
            for step in range(1, rounds + 1):
                trainer.forward_backward(make_batch(step), "cross_entropy").result()
                trainer.optim_step(ADAM).result()
                delta = trainer.save_weights_for_sampler(f"sync-{step}").result().path
                started = time.perf_counter()
                service.hotload_sampler_snapshot(delta)
                ours.append(time.perf_counter() - started)
                if official is not None:
                    theirs.append(official_load(delta, previous))
                    previous = delta
                loaded.append(delta)
            kinds = [e["type"] for e in emu.call("deployment_ledger", "bench-ours")]
        with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control:
            sizes = {
                str(row["name"]).rsplit("/", 1)[-1]: int(row["sizeBytes"])
                for row in control.list_checkpoints(job)
            }
    if kinds != ["full"] + ["delta"] * rounds:
        raise RuntimeError(f"the syncs were not one base then deltas: {kinds}")
    _rows(result, load_s, ours, theirs)
    _bytes(result, [sizes[name] for name in loaded])
    return result


def _rows(result: Result, load_s: float, ours: list[float], theirs: list[float]) -> None:
    mine = statistics.median(ours)
    ratio = mine / load_s
    measured = f"ours {mine:.2f} s"
    if theirs:
        measured += f"; official {statistics.median(theirs):.2f} s"
    result.rows.append(
        Row(
            f"hot-load of a delta, server load time {load_s:g} s",
            measured,
            f"{ratio:.2f}x the load time",
            f"≤ {TARGET_VS_LOAD}x the load time",
            ratio <= TARGET_VS_LOAD,
        )
    )
    result.bars.append(Bar("delta hot-load / server load time", ratio, TARGET_VS_LOAD))
    if theirs:
        official_ratio = statistics.median(theirs) / load_s
        result.rows.append(
            Row(
                f"hot-load of a delta, server load time {load_s:g} s, official client",
                measured,
                f"{official_ratio:.2f}x the load time",
                "— (reference)",
                None,
            )
        )
        result.bars.append(
            Bar(
                "official client delta hot-load / server load time (reference)",
                official_ratio,
                TARGET_VS_LOAD,
                reference=True,
            )
        )
    result.notes.append(
        f"{len(ours)} rounds; each trains one step, saves a delta and times the whole sync "
        "(status read of every replica, signal, wait until every replica serves it). Ours "
        "polls 50 ms after the signal, then every tenth of the time waited; the official "
        "client checks at once and then every 5 s."
    )


def _bytes(result: Result, sizes: list[int]) -> None:
    base, deltas = sizes[0], sizes[1:]
    delta = statistics.median(deltas)
    result.rows.append(
        Row(
            "bytes moved per sync: the first (a base) vs the deltas after it",
            f"base {base:,} B; delta {delta:,.0f} B (median of {len(deltas)})",
            f"{base / delta:.1f}x fewer bytes per delta",
            "—",
            None,
        )
    )
