"""Trainer calls that used to hang: a callback calling the client, a job deleted during a save,
and a trainer answering ``try_again`` without holding the poll.

Each case runs on loopback (the emulator, or a small scripted trainer) and is bounded: every
wait has a timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fireworks_training.clients._trainer_api import TRY_AGAIN_BACKOFF
from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.demo import ADAM, BASE_MODEL, make_batch
from fireworks_training.emulator import Emulator
from fireworks_training.errors import InternalServerError
from fireworks_training.retries import RetryPolicy

WAIT_S = 60


class Sleeps(list[float]):
    """The waits a client asked for between polls (slept for real)."""

    async def sleep(self, seconds: float) -> None:
        self.append(seconds)
        await asyncio.sleep(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def trainer(emulator: Emulator, sleeps: Sleeps) -> Iterator[FiretitanTrainingClient]:
    job = emulator.create_trainer_job(job_id="hangs")
    policy = RetryPolicy(async_sleep=sleeps.sleep)
    service = FiretitanServiceClient(
        emulator.trainer_url(job), emulator.api_key, retry_policy=policy, heartbeat_interval_s=None
    )
    with service:
        yield service.create_training_client(BASE_MODEL)


def _polls(emu: Emulator, job: str, op: str = "retrieve_future") -> int:
    return sum(e.route.endswith(f"/{job}/api/v1/{op}") for e in emu.request_log)


def test_a_done_callback_may_block_on_the_client(
    trainer: FiretitanTrainingClient, figures: dict[str, Any]
) -> None:
    got: queue.Queue[tuple[str, str]] = queue.Queue()

    def save_from_callback(_: Any) -> None:
        # Blocks on another op of the same client: on the loop thread this never returned.
        saved = trainer.save_state("from-callback").result(timeout=WAIT_S)
        got.put((threading.current_thread().name, saved.path))

    trainer.forward_backward(make_batch(0)).future().add_done_callback(save_from_callback)
    after = trainer.optim_step(ADAM).result(timeout=WAIT_S)  # later ops still complete
    thread, path = got.get(timeout=WAIT_S)
    assert thread == "fireworks-trainer-callbacks"
    assert path.endswith("/from-callback")
    assert after.metrics is not None
    figures.update(callback_thread=thread, callback_result=path)


def test_a_job_deleted_during_a_save_ends_the_wait_at_once(
    emulator: Emulator, trainer: FiretitanTrainingClient, sleeps: Sleeps, figures: dict[str, Any]
) -> None:
    rule = emulator.faults.add("*/hangs/api/v1/retrieve_future", statuses=[], hold=True)
    began = time.monotonic()
    saving = trainer.save_state("step-1")
    assert rule.wait_held(timeout=WAIT_S), "the save's first poll was never held"
    deleted = httpx.delete(
        f"{emulator.base_url}/v1/accounts/{emulator.account_id}/rlorTrainerJobs/hangs",
        headers={"X-Api-Key": emulator.api_key},
    )
    assert deleted.status_code == 200
    polls_before = _polls(emulator, "hangs")
    emulator.faults.remove(rule)
    with pytest.raises(InternalServerError, match="JOB_STATE_DELETED") as caught:
        saving.result(timeout=WAIT_S)
    assert _polls(emulator, "hangs") == polls_before  # the held poll was the last one
    assert sleeps == []
    # A submit to the deleted job is not resent either.
    with pytest.raises(InternalServerError, match="JOB_STATE_DELETED"):
        trainer.save_state("step-2").result(timeout=WAIT_S)
    assert _polls(emulator, "hangs", "save_weights") == 2
    figures.update(
        error=str(caught.value),
        polls_after_delete=0,
        seconds=round(time.monotonic() - began, 2),
    )


class QuickTrainer(http.server.ThreadingHTTPServer):
    """A loopback trainer: ``try_again`` at once, ``pending`` times, then the result."""

    def __init__(self, pending: int) -> None:
        super().__init__(("127.0.0.1", 0), _QuickHandler)
        self.pending = pending
        self.polls = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _QuickHandler(http.server.BaseHTTPRequestHandler):
    server: QuickTrainer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/retrieve_future"):
            with self.server.lock:
                self.server.polls += 1
                waiting = self.server.polls <= self.server.pending
            body: dict[str, Any] = {"path": "cross_job://quick/step-1"}
            if waiting:
                body = {"type": "try_again", "request_id": "r1", "queue_state": "active"}
        else:
            body = {"request_id": "r1", "model_id": "m1"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def test_try_again_without_a_long_poll_backs_off(sleeps: Sleeps, figures: dict[str, Any]) -> None:
    pending = 10
    server = QuickTrainer(pending)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        policy = RetryPolicy(async_sleep=sleeps.sleep)
        with FiretitanTrainingClient(server.url, "m1", api_key="k", retry_policy=policy) as client:
            saved = client.save_state("step-1").result(timeout=WAIT_S)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT_S)
    assert saved.path == "cross_job://quick/step-1"
    assert server.polls == pending + 1
    # Before: re-polled at once, hundreds of times a second. Now every quick try_again
    # waits, the waits growing to a 1 s cap.
    assert list(sleeps) == [TRY_AGAIN_BACKOFF.delay(n) for n in range(1, pending + 1)]
    assert sleeps[-1] == TRY_AGAIN_BACKOFF.cap_s
    figures.update(try_again_polls=server.polls, waits_s=list(sleeps))
