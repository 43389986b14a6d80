"""The future protocol: long-poll, seq_id ordering and dedup, expiry, preemption."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.backend import RecordedRequest

from .kit import Trainer, datum

FB = {"forward_backward_input": {"data": [datum()], "loss_fn": "cross_entropy"}}


def test_submit_answers_request_and_model_ids(trainer: Trainer) -> None:
    response = trainer.http.post(
        trainer.api("forward_backward"), json={"model_id": trainer.model_id, "seq_id": 1, **FB}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "model_id"}
    assert body["model_id"] == trainer.model_id


def test_a_gap_waits_and_long_polls_with_try_again(
    emu: Emulator, trainer: Trainer, job: str
) -> None:
    third = trainer.submit("forward_backward", FB, seq=3)
    with ThreadPoolExecutor(1) as pool:
        polled = pool.submit(trainer.poll, third)
        assert emu.wait_for_long_polls(job, timeout=60), "the retrieve was never held"
        pending = polled.result(timeout=60).json()  # the long poll ran out, the gap still open
    assert pending == {"type": "try_again", "request_id": third, "queue_state": "active"}
    assert emu.long_polls(job) == 0
    second = trainer.submit("optim_step", {"adam_params": {"learning_rate": 0.1}}, seq=2)
    assert trainer.poll(second).json()["type"] == "try_again"
    first = trainer.submit("forward_backward", FB, seq=1)
    before = trainer.wait(first)["metrics"]["loss:sum"]
    assert trainer.wait(second)["metrics"]["step"] == 1
    after = trainer.wait(third)["metrics"]["loss:sum"]
    assert after < before  # seq 3 ran after the step that used seq 1's gradients


def _polls(emu: Emulator, request_id: str) -> list[RecordedRequest]:
    return [
        e
        for e in list(emu.request_log)
        if e.route.endswith("/retrieve_future") and e.body.get("request_id") == request_id
    ]


def test_a_held_long_poll_answers_once_the_gap_is_filled(
    emu: Emulator, trainer: Trainer, job: str
) -> None:
    emu.set_long_poll_seconds(30)  # far longer than the test: the poll must be held
    third = trainer.submit("forward_backward", FB, seq=3)
    headers = {"X-Api-Key": emu.api_key}
    with (
        httpx.Client(base_url=emu.base_url, headers=headers, timeout=60) as poller,
        ThreadPoolExecutor(1) as pool,
    ):
        body = {"request_id": third, "allow_metadata_only": False}
        held = pool.submit(poller.post, trainer.api("retrieve_future"), json=body)
        assert emu.wait_for_long_polls(job, timeout=60), "the retrieve was never held"
        trainer.submit("forward_backward", FB, seq=1)
        trainer.submit("optim_step", {"adam_params": {"learning_rate": 0.1}}, seq=2)
        answer = held.result(timeout=60).json()
    # One poll, sent before seq 1 existed, came back with seq 3's result rather than try_again.
    assert "loss_fn_outputs" in answer
    assert len(_polls(emu, third)) == 1
    assert emu.long_polls(job) == 0


def test_a_repeated_seq_id_returns_the_original_request(trainer: Trainer) -> None:
    first = trainer.submit("forward_backward", FB, seq=1)
    again = trainer.submit("forward_backward", FB, seq=1)
    assert again == first
    trainer.seq = 1
    trainer.optim_step()
    assert trainer.optim_step()["metrics"]["step"] == 2  # the duplicate ran once


def test_long_poll_returns_as_soon_as_the_result_exists(trainer: Trainer) -> None:
    request_id = trainer.submit("forward_backward", FB)
    assert "loss_fn_outputs" in trainer.poll(request_id).json()


def test_unknown_and_expired_futures_are_410(emu: Emulator, trainer: Trainer) -> None:
    assert trainer.poll("req-unknown").status_code == 410
    request_id = trainer.submit("forward_backward", FB)
    assert trainer.poll(request_id).status_code == 200
    emu.advance_time(3601)
    assert trainer.poll(request_id).status_code == 410


def test_bad_submits(trainer: Trainer) -> None:
    http = trainer.http
    no_model = http.post(trainer.api("optim_step"), json={"model_id": "nope", "seq_id": 1})
    assert no_model.status_code == 404
    no_seq = http.post(trainer.api("optim_step"), json={"model_id": trainer.model_id})
    assert no_seq.status_code == 400
    not_json = http.post(trainer.api("optim_step"), content=b"{", headers={"Content-Type": "x"})
    assert not_json.status_code == 400


def test_preemption_fails_in_flight_futures(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    waiting = trainer.submit("forward_backward", FB, seq=2)
    emu.preempt(job)
    assert trainer.poll(waiting).status_code == 503
    assert (
        http.post(
            trainer.api("forward_backward"), json={"model_id": trainer.model_id, "seq_id": 3, **FB}
        ).status_code
        == 503
    )
    http.post(f"/v1/accounts/emulator/rlorTrainerJobs/{job}:resume").raise_for_status()
    failed = trainer.poll(waiting).json()
    assert failed["category"] == "server"
    assert "preempted" in failed["error"]
    # The restarted trainer no longer knows the old model.
    stale = http.post(trainer.api("optim_step"), json={"model_id": trainer.model_id, "seq_id": 1})
    assert stale.status_code == 404
    trainer.attach()
    assert trainer.optim_step()["metrics"]["step"] == 1
