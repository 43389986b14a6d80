"""A training process for the crash tests: resume from the ledger, then train to the end.

Run as a script it prints ``step N`` after every step, so a test can kill it at a chosen
point; ``--tear-at N`` makes it write half of the ledger line of step N and SIGKILL itself,
standing for a crash in the middle of a ledger write.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from fireworks_training.checkpoints.ledger import Ledger, LedgerRecord
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL, TrainResult, train


@dataclass(frozen=True)
class Target:
    """Where the worker trains."""

    base_url: str
    api_key: str
    account_id: str
    job_id: str
    log_path: Path


def _tear_ledger_at(step: int) -> None:
    original = Ledger.append

    def torn_append(self: Ledger, record: LedgerRecord) -> bool:
        if record.step != step:
            return original(self, record)
        line = record.to_line()
        self.log_path.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(line[: len(line) // 2])
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    Ledger.append = torn_append  # type: ignore[method-assign]


def run(target: Target, *, steps: int, interval: int, report: bool = False) -> TrainResult:
    """Resume from the ledger (if any) and train to ``steps``; returns where it started."""
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
        start = TrainResult(info.step, info.data_consumed) if info else TrainResult(0, 0)

        def say(step: int) -> None:
            if report:
                print(f"step {step}", flush=True)

        train(trainer, ckpt, start=start, steps=steps, sync_every=0, on_step=say)
        return start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", help="JSON of the Target fields")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--interval", type=int, required=True)
    parser.add_argument("--tear-at", type=int)
    args = parser.parse_args()
    fields = json.loads(args.target)
    target = Target(**{**fields, "log_path": Path(fields["log_path"])})
    if args.tear_at is not None:
        _tear_ledger_at(args.tear_at)
    run(target, steps=args.steps, interval=args.interval, report=True)
    print("done", flush=True)


if __name__ == "__main__":
    sys.exit(main())
