"""The main job (``make demo``): train, sync, crash, resume and promote against the emulator.

A custom loop on a small built-in text saves training state every few steps, and every few
steps syncs its weights onto a deployment attached to the trainer job (base, then deltas,
through the verified chain) and samples from it: a few tokens, and the mean logprob of a
held-out text, which improves as training goes. It crashes mid-run, resumes in a fresh
client from ``log_path`` with its optimizer state, finishes, promotes the final checkpoint by
name, and checks that the resumed run ends with the same weights as a run that never crashed.
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
from .clients.deployments import DeploymentConfig, DeploymentManager
from .clients.fireworks import FireworksClient
from .clients.trainer import FiretitanServiceClient, FiretitanTrainingClient

__all__ = [
    "HELD_OUT",
    "TEXT",
    "SyncRow",
    "TrainResult",
    "WeightSync",
    "make_batch",
    "run_demo",
    "train",
]

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
TEXT = (
    "A checkpoint that silently lost its optimizer state costs a day of training. "
    "Save the state every few steps, keep the data cursor with it, and resume from the "
    "newest checkpoint that still exists. Promote the final weights by their full name. "
    "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
)
# Not in TEXT: the deployment's logprob of it shows what the model learned, not what it saw.
HELD_OUT = "The fox saves its state every few steps, so a lost day costs a minute."
SAMPLE_PROMPT = "The "
DEPLOYMENT_ID = "demo-sampler"
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
    sync: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train from ``start`` to ``steps``; saves state and weight-syncs on the way.

    Every ``sync_every`` steps ``sync(step)`` runs (without one, a bare sampler save).
    """
    result = TrainResult(start.step, start.data_consumed)
    while result.step < steps:
        batch = make_batch(result.data_consumed)
        output = trainer.forward_backward(batch, "cross_entropy").result()
        trainer.optim_step(ADAM).result()
        result.step += 1
        result.data_consumed += len(batch)
        result.losses[result.step] = _loss_of(output, len(batch) * SEQUENCE_LENGTH)
        if sync_every and result.step % sync_every == 0 and result.step < steps:
            if sync is not None:
                sync(result.step)
            else:
                trainer.save_weights_for_sampler(f"sync-{result.step}").result()
        ckpt.maybe_save(result.step, result.data_consumed)
        if on_step is not None:
            on_step(result.step)
        if crash_after is not None and result.step == crash_after:
            raise SimulatedCrashError(f"crashed after step {result.step}")
    return result


@dataclass(frozen=True)
class SyncRow:
    """One weight sync: what the deployment loaded and how it scores the held-out text."""

    step: int
    snapshot: str
    loaded_as: str  # "full" or "delta", as the deployment's ledger says
    held_out_logprob: float  # mean per token
    sample: str


@dataclass
class WeightSync:
    """The demo's sync: save, hot-load onto the deployment, sample and score from it."""

    emu: Any
    service: FiretitanServiceClient
    trainer: FiretitanTrainingClient
    rows: list[SyncRow] = field(default_factory=list)

    def __call__(self, step: int) -> None:
        saved = self.trainer.save_weights_for_sampler(f"sync-{step}").result()
        with self.service.create_sampling_client(model_path=saved.path) as sampler:
            text = list(HELD_OUT.encode())
            scores = sampler.compute_logprobs(tinker.types.ModelInput.from_ints(text)).result()
            params = tinker.types.SamplingParams(max_tokens=28, temperature=0.6, top_k=8, seed=step)
            prompt = tinker.types.ModelInput.from_ints(list(SAMPLE_PROMPT.encode()))
            sampled = sampler.sample(prompt, 1, params).result().sequences[0]
        loaded = self.emu.deployment_ledger(DEPLOYMENT_ID)[-1]
        mean = sum(s for s in scores if s is not None) / (len(text) - 1)
        shown = bytes(sampled.tokens).decode("utf-8", "replace")
        sample = "".join(c if c.isprintable() else "·" for c in SAMPLE_PROMPT + shown)
        self.rows.append(SyncRow(step, saved.path, loaded["type"], mean, sample))


@dataclass
class _Run:
    """One training process: its clients and its checkpointing."""

    service: FiretitanServiceClient
    trainer: FiretitanTrainingClient
    ckpt: TrainingCheckpoints
    sync: WeightSync | None = None

    def close(self) -> None:
        self.service.close()


def _start_process(
    emu: Any,
    control: FireworksClient,
    job: str,
    log_path: Path,
    interval: int,
    deployments: DeploymentManager | None = None,
) -> _Run:
    service = FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key)
    if deployments is not None:
        service.attach_deployment(DEPLOYMENT_ID, deployment_manager=deployments)
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
    sync = WeightSync(emu, service, trainer) if deployments is not None else None
    return _Run(service, trainer, ckpt, sync)


def _deploy(manager: DeploymentManager, job: str) -> None:
    """The deployment the demo samples from, attached to the trainer job, ready."""
    config = DeploymentConfig(
        deployment_id=DEPLOYMENT_ID,
        base_model=BASE_MODEL,
        min_replica_count=1,
        max_replica_count=1,
        hot_load_trainer_job=job,
    )
    manager.create_or_get(config)
    manager.wait_for_ready(DEPLOYMENT_ID, timeout_s=60)


def _sync_table(rows: list[SyncRow], sizes: dict[str, Any]) -> Any:
    """One line per weight sync: what moved, and what the deployment then makes of text."""
    from rich.table import Table

    table = Table(title=f"weight sync onto {DEPLOYMENT_ID} (held-out: {HELD_OUT!r})")
    for column in ("step", "snapshot", "loaded as", "bytes moved", "held-out logprob", "sample"):
        table.add_column(column)
    for row in rows:
        size = sizes.get(row.snapshot)
        table.add_row(
            str(row.step),
            row.snapshot,
            row.loaded_as,
            f"{int(size):,}" if size is not None else "-",
            f"{row.held_out_logprob:.3f}",
            repr(row.sample),
        )
    return table


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
            DeploymentManager(emu.api_key, emu.base_url, account_id=emu.account_id) as deploy,
        ):
            job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
            reference_job = emu.create_trainer_job(base_model=BASE_MODEL, lora_rank=0)
            _deploy(deploy, job)
            out.rule(
                f"[bold]training {job}: {steps} steps, state every {save_interval}, "
                f"weights synced to {DEPLOYMENT_ID} every 3"
            )
            first = _start_process(emu, control, job, root / "run", save_interval, deploy)
            syncs: list[SyncRow] = []
            try:
                train(
                    first.trainer,
                    first.ckpt,
                    start=TrainResult(0, 0),
                    steps=steps,
                    crash_after=crash_at,
                    sync=first.sync,
                )
            except SimulatedCrashError as crash:
                out.print(f"[red]{crash}[/] (the process dies; its clients are gone)")
            finally:
                first.close()
                syncs += first.sync.rows if first.sync else []
            second = _start_process(emu, control, job, root / "run", save_interval, deploy)
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
                    sync=second.sync,
                )
                model = second.ckpt.finish(resumed.step, resumed.data_consumed)
            finally:
                second.close()
                syncs += second.sync.rows if second.sync else []
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
            sizes = {str(row["name"]).rsplit("/", 1)[-1]: row.get("sizeBytes") for row in rows}
            out.print(_sync_table(syncs, sizes))
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
