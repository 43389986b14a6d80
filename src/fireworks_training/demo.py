"""The main job (``make demo``): train, crash, resume and promote against the emulator.

A custom loop on a small built-in text saves training state every few steps and sampler
weights (base, then deltas), crashes mid-run, resumes in a fresh client from ``log_path``
with its optimizer state, finishes, promotes the final checkpoint by name, and checks that
the resumed run ends with the same weights as a run that never crashed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tinker

from .checkpoints import newest_first
from .checkpoints.workflow import TrainingCheckpoints
from .clients.fireworks import FireworksClient
from .clients.trainer import FiretitanServiceClient, FiretitanTrainingClient

__all__ = ["TEXT", "TrainResult", "make_batch", "run_demo", "train"]

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
TEXT = (
    "A checkpoint that silently lost its optimizer state costs a day of training. "
    "Save the state every few steps, keep the data cursor with it, and resume from the "
    "newest checkpoint that still exists. Promote the final weights by their full name. "
    "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
)
SEQUENCE_LENGTH = 32
BATCH_SIZE = 4
ADAM = tinker.types.AdamParams(learning_rate=0.05, beta1=0.9, beta2=0.95, eps=1e-8)


def make_batch(data_consumed: int, batch_size: int = BATCH_SIZE) -> list[tinker.types.Datum]:
    """The next ``batch_size`` sequences of the text, starting at the data cursor."""
    data = TEXT.encode()
    batch = []
    for index in range(data_consumed, data_consumed + batch_size):
        start = (index * SEQUENCE_LENGTH) % (len(data) - SEQUENCE_LENGTH - 1)
        tokens = list(data[start : start + SEQUENCE_LENGTH + 1])
        batch.append(
            tinker.types.Datum(
                model_input=tinker.types.ModelInput.from_ints(tokens[:-1]),
                loss_fn_inputs={
                    "target_tokens": tinker.types.TensorData(
                        data=tokens[1:], dtype="int64", shape=[SEQUENCE_LENGTH]
                    ),
                    "weights": tinker.types.TensorData(
                        data=[1.0] * SEQUENCE_LENGTH, dtype="float32", shape=[SEQUENCE_LENGTH]
                    ),
                },
            )
        )
    return batch


class SimulatedCrashError(RuntimeError):
    """Raised by the demo loop to stand for a process that died."""


@dataclass
class TrainResult:
    """Where a loop stopped and the mean token loss of each step it ran."""

    step: int
    data_consumed: int
    losses: dict[int, float] = field(default_factory=dict)


def _loss_of(output: Any, tokens: int) -> float:
    metrics = output["metrics"] if isinstance(output, dict) else output.metrics
    return float(metrics["loss:sum"]) / tokens


def train(
    trainer: FiretitanTrainingClient,
    ckpt: TrainingCheckpoints,
    *,
    start: TrainResult,
    steps: int,
    sync_every: int = 3,
    crash_after: int | None = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train from ``start`` to ``steps``; saves state and weight-syncs on the way."""
    result = TrainResult(start.step, start.data_consumed)
    while result.step < steps:
        batch = make_batch(result.data_consumed)
        output = trainer.forward_backward(batch, "cross_entropy").result()
        trainer.optim_step(ADAM).result()
        result.step += 1
        result.data_consumed += len(batch)
        result.losses[result.step] = _loss_of(output, len(batch) * SEQUENCE_LENGTH)
        if sync_every and result.step % sync_every == 0 and result.step < steps:
            trainer.save_weights_for_sampler(f"sync-{result.step}").result()
        ckpt.maybe_save(result.step, result.data_consumed)
        if on_step is not None:
            on_step(result.step)
        if crash_after is not None and result.step == crash_after:
            raise SimulatedCrashError(f"crashed after step {result.step}")
    return result


@dataclass
class _Run:
    """One training process: its clients and its checkpointing."""

    service: FiretitanServiceClient
    trainer: FiretitanTrainingClient
    ckpt: TrainingCheckpoints

    def close(self) -> None:
        self.service.close()


def _start_process(
    emu: Any, control: FireworksClient, job: str, log_path: Path, interval: int
) -> _Run:
    service = FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key)
    trainer = service.create_training_client(BASE_MODEL, lora_rank=0)
    ckpt = TrainingCheckpoints(
        trainer,
        control,
        trainer_job_id=job,
        log_path=log_path,
        base_model=BASE_MODEL,
        dcp_save_interval=interval,
        output_model_id=f"demo-{job}",
    )
    return _Run(service, trainer, ckpt)


def _sparkline(values: list[float]) -> str:
    bars = "▁▂▃▄▅▆▇█"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(bars[int((v - low) / span * (len(bars) - 1))] for v in values)


def run_demo(*, steps: int = 30, save_interval: int = 5, workdir: str | None = None) -> int:
    """Run the demo; 0 when the resumed weights equal the uninterrupted run's."""
    from rich.table import Table

    from ._console import checkpoint_table, console, ledger_kinds
    from .emulator import Emulator

    out = console()
    began = time.perf_counter()
    crash_at = steps // 2 + 2
    with tempfile.TemporaryDirectory(prefix="fireworks-demo-") as scratch:
        root = Path(workdir) if workdir else Path(scratch)
        with (
            Emulator(state_dir=root / "emulator") as emu,
            FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control,
        ):
            job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
            reference_job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
            out.rule(f"[bold]training {job}: {steps} steps, state every {save_interval}")
            first = _start_process(emu, control, job, root / "run", save_interval)
            try:
                train(
                    first.trainer,
                    first.ckpt,
                    start=TrainResult(0, 0),
                    steps=steps,
                    crash_after=crash_at,
                )
            except SimulatedCrashError as crash:
                out.print(f"[red]{crash}[/] (the process dies; its clients are gone)")
            finally:
                first.close()
            second = _start_process(emu, control, job, root / "run", save_interval)
            try:
                info = second.ckpt.resume(data_consumed_fallback=lambda step: step * BATCH_SIZE)
                assert info is not None
                assert info.data_consumed is not None
                out.print(
                    f"resumed from [bold]{info.checkpoint_name}[/] (step {info.step}, "
                    f"data_consumed {info.data_consumed}) with load_state_with_optimizer"
                )
                resumed = train(
                    second.trainer,
                    second.ckpt,
                    start=TrainResult(info.step, info.data_consumed),
                    steps=steps,
                )
                model = second.ckpt.finish(resumed.step, resumed.data_consumed)
            finally:
                second.close()
            reference = _start_process(emu, control, reference_job, root / "reference", 0)
            try:
                clean = train(
                    reference.trainer,
                    reference.ckpt,
                    start=TrainResult(0, 0),
                    steps=steps,
                    sync_every=0,
                )
            finally:
                reference.close()
            losses = [clean.losses[s] for s in sorted(clean.losses)]
            out.print(f"loss {losses[0]:.3f} → {losses[-1]:.3f} per token  {_sparkline(losses)}")
            rows = newest_first(control.list_checkpoints(job))
            kinds = ledger_kinds(second.ckpt.ledger.records())
            out.print(checkpoint_table(rows, title=f"checkpoints of {job}", kinds=kinds))
            assert model is not None
            summary = Table(title="promoted model", show_header=False)
            summary.add_row("name", model.name)
            summary.add_row("state", model.state)
            summary.add_row("kind", str(model.kind))
            out.print(summary)
            same = emu.weights_digest(job) == emu.weights_digest(reference_job)
    verdict = "[green]equal[/]" if same else "[red]DIFFERENT[/]"
    out.print(
        f"resumed run's final weights vs an uninterrupted run: {verdict}  "
        f"({time.perf_counter() - began:.1f} s)"
    )
    return 0 if same else 1
