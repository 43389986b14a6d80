"""Sampler snapshots: a delta after one training step vs the full base it applies to.

A full-parameter model saves ``base`` (every bf16 weight), trains one step, saves ``delta``
(the changed bits over that base, compressed). Sizes are the emulator's files, as its
checkpoint rows report them (``sizeBytes``).
"""

from __future__ import annotations

from fireworks_training import FiretitanServiceClient, FireworksClient
from fireworks_training.demo import ADAM, make_batch

from .emulator_proc import EmulatorProcess
from .report import Bar, Config, Result, Row

__all__ = ["run"]

TARGET_SMALLER = 5.0
BASE_MODEL = "accounts/fireworks/models/tiny-bigram"


def run(config: Config) -> Result:
    """One base, one step, one delta; the ratio of their sizes."""
    del config  # one step is the measurement at every size
    result = Result("Sampler blobs")
    with EmulatorProcess() as emu:
        job = emu.call("create_trainer_job", job_id="bench-blobs")
        with FiretitanServiceClient(emu.trainer_url(job), emu.api_key) as service:
            trainer = service.create_training_client(BASE_MODEL)
            trainer.forward_backward(make_batch(0), "cross_entropy").result()
            trainer.optim_step(ADAM).result()
            base = trainer.save_weights_for_sampler_ext("blob-base", checkpoint_type="base")
            trainer.forward_backward(make_batch(8), "cross_entropy").result()
            trainer.optim_step(ADAM).result()
            delta = trainer.save_weights_for_sampler_ext("blob-delta", checkpoint_type="delta")
        with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control:
            rows = {row.checkpoint_id: row for row in control.list_checkpoints(job)}
    base_row, delta_row = rows[base.snapshot_name], rows[delta.snapshot_name]
    base_bytes, delta_bytes = int(base_row["sizeBytes"]), int(delta_row["sizeBytes"])
    ratio = base_bytes / delta_bytes
    result.rows.append(
        Row(
            "sampler delta vs base after one step",
            f"base {base_bytes:,} B ({base_row.checkpoint_type.name}); "
            f"delta {delta_bytes:,} B ({delta_row.checkpoint_type.name})",
            f"{ratio:.1f}x smaller",
            f"≥ {TARGET_SMALLER:g}x smaller",
            ratio >= TARGET_SMALLER,
        )
    )
    result.bars.append(
        Bar("sampler base / delta size (higher is better)", ratio, TARGET_SMALLER, True)
    )
    return result
