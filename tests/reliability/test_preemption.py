"""Preemption: the trainer is preempted three times mid-run; the run still ends bit-identical.

Each preemption hits work in flight: the emulator holds one request (a ``hold`` fault rule),
and the job is preempted while it is held, before any of the step's futures resolved, then
the request is released. Held are a forward/backward (with the optimizer step queued behind
it) and a state save. The futures fail; the user's loop then does what a real one would:
``reconnect_and_wait`` (the job is FAILED, so it is resumed), a new service and training
client, ``TrainingCheckpoints.resume`` from ``log_path``, and on from the restored step.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.jobs import TrainerJobConfig, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import ADAM, BASE_MODEL, make_batch
from fireworks_training.emulator import Emulator
from fireworks_training.errors import FireworksError
from fireworks_training.retries import RetryPolicy

STEPS = 40
STATE_EVERY = 5
# The step whose request is held when the job is preempted; step 20's save is the one held.
PREEMPT_DURING = {9: "forward_backward", 20: "save_weights", 32: "forward_backward"}
# Few resends against a preempted trainer, so the loop notices quickly.
POLICY = RetryPolicy(max_retries=1, initial_wait_s=0.02, max_wait_s=0.2)


class Process:
    """One incarnation of the training process: its clients and checkpointing."""

    def __init__(self, emu: Emulator, jobs: TrainerJobManager, job: str, log_path: Path):
        control = FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id)
        self.control = control
        self.service = FiretitanServiceClient(
            jobs.trainer_url(job), emu.api_key, retry_policy=POLICY
        )
        self.trainer = self.service.create_training_client(BASE_MODEL)
        self.ckpt = TrainingCheckpoints(
            self.trainer,
            control,
            trainer_job_id=job,
            log_path=log_path,
            base_model=BASE_MODEL,
            dcp_save_interval=STATE_EVERY,
        )

    def close(self) -> None:
        self.service.close()
        self.control.close()


class Hold:
    """Holds ``job``'s next request to ``route`` in the emulator; preempts meanwhile."""

    def __init__(self, emu: Emulator, job: str, route: str) -> None:
        self.emu = emu
        self.job = job
        self.route = f"*/{job}/api/v1/{route}"
        self.rule = emu.faults.add(self.route, statuses=[], hold=True)
        self.futures: list[concurrent.futures.Future[Any]] = []

    def preempt_when_received(self, futures: list[concurrent.futures.Future[Any]]) -> None:
        """Once the request is held: check ``futures`` are pending, preempt, release it."""
        try:
            assert self.rule.wait_held(timeout=60), f"{self.route} was never held"
            assert not any(f.done() for f in futures), "preempted after the work finished"
            self.futures = futures
            self.emu.preempt(self.job)
        finally:
            self.emu.faults.remove(self.rule)  # first, so no later request is held or counted
            self.rule.release()


def run(
    emu: Emulator, jobs: TrainerJobManager, job: str, log_path: Path, preempt: dict[int, str]
) -> dict[str, Any]:
    """Train ``job`` to ``STEPS``, preempted during the given steps; what happened on the way."""
    pending = dict(preempt)
    seen: dict[str, Any] = {"recoveries": 0, "resumed_from": [], "failed": [], "replayed": 0}
    process = Process(emu, jobs, job, log_path)
    step = consumed = computed = 0
    with concurrent.futures.ThreadPoolExecutor(1) as saver:
        while step < STEPS:
            held = pending.pop(step + 1, None)
            hold = Hold(emu, job, held) if held else None
            batch = make_batch(consumed)
            try:
                in_flight = [
                    process.trainer.forward_backward(batch),
                    process.trainer.optim_step(ADAM),
                ]
                if hold and held == "forward_backward":
                    hold.preempt_when_received([f.future() for f in in_flight])
                for future in in_flight:
                    future.result(60)
                computed = step + 1
                saving = saver.submit(process.ckpt.maybe_save, step + 1, consumed + len(batch))
                if hold and held == "save_weights":
                    hold.preempt_when_received([saving])
                saving.result(60)
            except FireworksError:
                assert hold is not None, "a failure without a preemption"
                assert hold.futures, "a failure before the preemption"
                seen["failed"].append([type_of(f) for f in hold.futures])
                process.close()
                jobs.reconnect_and_wait(job, timeout=60)
                process = Process(emu, jobs, job, log_path)
                info = process.ckpt.resume()
                assert info is not None
                step, consumed = info.step, info.data_consumed
                seen["recoveries"] += 1
                seen["resumed_from"].append(info.checkpoint_name)
                seen["replayed"] += computed - info.step
                continue
            step, consumed = step + 1, consumed + len(batch)
    process.close()
    return seen


def type_of(future: concurrent.futures.Future[Any]) -> str:
    exc = future.exception(60)
    return type(exc).__name__ if exc is not None else "ok"


def test_three_preemptions_end_with_the_uninterrupted_weights(
    emulator: Emulator, tmp_path: Path, figures: dict[str, Any]
) -> None:
    emu = emulator
    began = time.monotonic()
    with TrainerJobManager(emu.api_key, emu.base_url) as jobs:
        config = TrainerJobConfig(BASE_MODEL)
        jobs.create_and_wait(config, job_id="reference", timeout=60)
        jobs.create_and_wait(config, job_id="preempted", timeout=60)
        clean = run(emu, jobs, "reference", tmp_path / "reference", {})
        seen = run(emu, jobs, "preempted", tmp_path / "preempted", PREEMPT_DURING)
    assert clean["recoveries"] == 0
    assert seen["recoveries"] == len(PREEMPT_DURING)
    # The save in flight at step 20 failed, so step-20 was never recorded.
    assert seen["resumed_from"] == ["step-5", "step-15", "step-30"]
    # The held request reaches a FAILED job: 503 after the resends. The optimizer step
    # queued behind a held forward/backward is never sent, as ops run strictly in order.
    in_step = ["InternalServerError", "RequestFailedError"]
    assert seen["failed"] == [in_step, ["InternalServerError"], in_step]
    assert emu.job_state("preempted") == "JOB_STATE_RUNNING"
    assert emu.weights_digest("preempted") == emu.weights_digest("reference")
    figures.update(
        steps=STEPS,
        preemptions=len(PREEMPT_DURING),
        preempted_during=[f"step {n}: {op}" for n, op in PREEMPT_DURING.items()],
        recoveries=seen["recoveries"],
        resumed_from=seen["resumed_from"],
        steps_replayed=seen["replayed"],
        failed_in_flight_futures=seen["failed"],
        resume_requests=sum(r.route.endswith(":resume") for r in emu.request_log),
        weights_equal=True,
        seconds=round(time.monotonic() - began, 1),
    )


def test_preempted_again_while_reconnecting(emulator: Emulator, figures: dict[str, Any]) -> None:
    emu = emulator
    with TrainerJobManager(emu.api_key, emu.base_url) as jobs:
        jobs.create_and_wait(TrainerJobConfig(BASE_MODEL), job_id="twice", timeout=60)
        emu.preempt("twice")
        hold = Hold(emu, "twice", "healthz")  # the health check after the first :resume
        preempter = threading.Thread(target=hold.preempt_when_received, args=([],))
        preempter.start()
        try:
            ready = jobs.reconnect_and_wait("twice", timeout=60)
        finally:
            preempter.join()
    assert hold.rule.injected == 1
    assert ready.job_id == "twice"
    assert emu.job_state("twice") == "JOB_STATE_RUNNING"
    resumes = sum(r.route.endswith("/twice:resume") for r in emu.request_log)
    assert resumes == 2
    figures.update(preemptions=2, resume_requests=resumes, reconnect_calls=1)
