"""A custom training loop that saves, resumes and promotes, against the offline emulator.

Stop it mid-run, then run it again with the same --log-path: the second run resumes from
the newest checkpoint, with its optimizer state and data cursor, and promotes the result.

    python examples/custom_loop.py --steps 20 --log-path /tmp/run-a --crash-after 12
    python examples/custom_loop.py --steps 20 --log-path /tmp/run-a
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fireworks_training import (
    FiretitanServiceClient,
    FireworksClient,
    TrainingCheckpoints,
)
from fireworks_training.demo import BASE_MODEL, SimulatedCrashError, TrainResult, train
from fireworks_training.emulator import Emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--log-path", default=None)
    parser.add_argument("--crash-after", type=int, default=None, help="stop after this step")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(args.log_path or scratch) / "run"
        with Emulator(state_dir=log_path.parent / "emulator") as emu:
            job_id = emu.create_trainer_job(base_model=BASE_MODEL, job_id="custom-loop")
            control = FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id)
            service = FiretitanServiceClient(emu.trainer_url(job_id), api_key=emu.api_key)
            with control, service:
                trainer = service.create_training_client(BASE_MODEL, lora_rank=0)
                ckpt = TrainingCheckpoints(
                    trainer,
                    control,
                    trainer_job_id=job_id,
                    log_path=log_path,
                    base_model=BASE_MODEL,
                    dcp_save_interval=5,
                    output_model_id="custom-loop-model",
                )
                info = ckpt.resume()
                start = TrainResult(info.step, info.data_consumed) if info else TrainResult(0, 0)
                print(f"starting at step {start.step}")
                try:
                    done = train(
                        trainer, ckpt, start=start, steps=args.steps, crash_after=args.crash_after
                    )
                except SimulatedCrashError as crash:
                    raise SystemExit(f"{crash}; run again with the same --log-path") from None
                model = ckpt.finish(done.step, done.data_consumed)
                assert model is not None
                print(f"promoted {model.name} ({model.state}) after step {done.step}")


if __name__ == "__main__":
    main()
