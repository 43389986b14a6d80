"""A training process for the crash tests: resume from the control plane, train to the end.

Run as a script it prints ``step N`` after every step, so a test can kill it at a chosen
point; ``--tear-at N`` makes it write half of the ledger line of step N (after the state
save and ``dataloader.json``) and SIGKILL itself, standing for a crash mid-write. The
``log_path`` may be a local folder or a URL (``s3://``: the S3 endpoint comes from the
environment).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass

from fireworks_training.checkpoints.ledger import Ledger, LedgerRecord
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL, BATCH_SIZE, TrainResult, train


@dataclass(frozen=True)
class Target:
    """Where the worker trains."""

    base_url: str
    api_key: str
    account_id: str
    job_id: str
    log_path: str


@dataclass(frozen=True)
class Started:
    """Where a run started, and whether its data cursor came from the records."""

    step: int
    data_consumed: int
    cursor_recorded: bool


def _tear_ledger_at(step: int) -> None:
    original = Ledger._append_line

    def torn_append(self: Ledger, record: LedgerRecord) -> None:
        if record.step != step:
            original(self, record)
            return
        line = record.to_line()
        with self.path.open("ab") as f:
            f.write(line[: len(line) // 2])
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    Ledger._append_line = torn_append  # type: ignore[method-assign]


def run(
    target: Target,
    *,
    steps: int,
    interval: int,
    report: bool = False,
    crash_after: int | None = None,
) -> Started:
    """Resume (if anything was saved) and train to ``steps``; returns where it started.

    With ``crash_after`` the loop raises ``SimulatedCrashError`` after that step, leaving
    everything as a process that died there would (nothing closed or released).
    """
    trainer_url = (
        f"{target.base_url}/training/v1/rlorTrainerJobs/{target.account_id}/{target.job_id}"
    )
    with (
        FireworksClient(target.api_key, target.base_url, account_id=target.account_id) as control,
        FiretitanServiceClient(trainer_url, api_key=target.api_key) as service,
    ):
        trainer = service.create_training_client(BASE_MODEL, lora_rank=0)
        ckpt = TrainingCheckpoints(
            trainer,
            control,
            trainer_job_id=target.job_id,
            log_path=target.log_path,
            base_model=BASE_MODEL,
            dcp_save_interval=interval,
        )
        info = ckpt.resume()
        started = Started(0, 0, True)
        if info is not None:
            # The cursor is missing only after a kill between a state save and its records.
            recorded = info.data_consumed is not None
            consumed = info.data_consumed if recorded else info.step * BATCH_SIZE
            assert consumed is not None
            started = Started(info.step, consumed, recorded)

        def say(step: int) -> None:
            if report:
                print(f"step {step}", flush=True)

        start = TrainResult(started.step, started.data_consumed)
        train(
            trainer,
            ckpt,
            start=start,
            steps=steps,
            sync_every=0,
            on_step=say,
            crash_after=crash_after,
        )
        ckpt.close()
        return started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", help="JSON of the Target fields")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--interval", type=int, required=True)
    parser.add_argument("--tear-at", type=int)
    args = parser.parse_args()
    target = Target(**json.loads(args.target))
    if args.tear_at is not None:
        _tear_ledger_at(args.tear_at)
    run(target, steps=args.steps, interval=args.interval, report=True)
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
