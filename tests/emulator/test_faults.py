"""Fault injection: statuses, Retry-After, drops, latency, holds, the admin route."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.emulator import app as app_module
from fireworks_training.emulator.faults import Faults

from .kit import Trainer, promote_body

ACCOUNTS = "/v1/accounts"


def test_a_script_answers_statuses_in_order_then_passes(emu: Emulator, http: httpx.Client) -> None:
    emu.faults.add("/v1/accounts", script=[503, 429, None, 500], retry_after=2)
    statuses = [http.get(ACCOUNTS).status_code for _ in range(6)]
    assert statuses == [503, 429, 200, 500, 200, 200]
    assert emu.faults.stats() == {"total": 3, "503": 1, "429": 1, "500": 1}


def test_injected_errors_carry_retry_after_and_a_google_body(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.faults.add("*", statuses=[429], retry_after=1.5)
    response = http.get(ACCOUNTS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1.5"
    assert response.json()["error"]["code"] == 429


def test_a_rate_is_reproducible_with_a_seed(emu: Emulator, http: httpx.Client) -> None:
    def run() -> list[int]:
        emu.faults.clear()
        emu.faults.add(ACCOUNTS, statuses=[503, 429], rate=0.5, seed=7)
        return [http.get(ACCOUNTS).status_code for _ in range(40)]

    first = run()
    assert first == run()
    assert {200, 503, 429} == set(first)


def test_rules_match_op_names_and_verbs(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    rule = emu.faults.add("forward_backward", statuses=[503])
    assert http.post(trainer.api("forward_backward"), json={}).status_code == 503
    assert http.post(trainer.api("optim_step"), json={}).status_code != 503
    emu.faults.remove(rule)
    emu.faults.add("promote", statuses=[500])
    response = http.post("/v1/accounts/emulator/checkpoints/x:promote", json={})
    assert response.status_code == 500
    assert rule.injected == 1


def test_drop_connection_does_not_do_the_work(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    trainer.save_sampler("final")
    checkpoint = f"final-{trainer.session_id}"
    emu.faults.add("promote", script=["drop_connection"])
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            f"/v1/accounts/emulator/checkpoints/{checkpoint}:promote",
            json=promote_body("emulator", job, "dropped"),
        )
    assert http.get("/v1/accounts/emulator/models/dropped").status_code == 404
    assert emu.faults.stats()["drop_connection"] == 1


def test_drop_response_does_the_work_then_loses_the_answer(
    emu: Emulator, http: httpx.Client, trainer: Trainer, job: str
) -> None:
    trainer.save_sampler("final")
    checkpoint = f"final-{trainer.session_id}"
    emu.faults.add("promote", drop_response=True, rate=1.0)
    path = f"/v1/accounts/emulator/checkpoints/{checkpoint}:promote"
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(path, json=promote_body("emulator", job, "lost-answer"))
    model = http.get("/v1/accounts/emulator/models/lost-answer").json()
    assert model["sourceCheckpoint"].endswith(checkpoint)
    emu.faults.clear()
    retry = http.post(path, json=promote_body("emulator", job, "lost-answer"))
    assert retry.status_code == 409


def test_latency_delays_the_answer(
    emu: Emulator, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:  # the server's sleeps, not slept
        slept.append(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(app_module, "asyncio", SimpleNamespace(sleep=record))
    emu.faults.add(ACCOUNTS, latency_s=0.3, rate=0.0)
    assert http.get(ACCOUNTS).status_code == 200
    assert slept == [0.3]
    assert emu.faults.stats() == {"total": 0, "latency": 1}
    assert http.get("/v1/accounts/emulator/models/none").status_code == 404  # no rule here
    assert slept == [0.3]
    assert emu.faults.stats() == {"total": 0, "latency": 1}


def test_a_spike_keeps_the_latency_of_earlier_rules() -> None:
    faults = Faults()
    faults.add(ACCOUNTS, latency_s=0.3, rate=0.0)  # delays every request, never fires
    faults.add(ACCOUNTS, statuses=[], latency_s=0.1)  # a spike shorter than that
    faults.add("models", statuses=[], latency_s=0.5)
    faults.add("models", latency_s=0.2, rate=0.0)  # after the spike: not reached
    spike = faults.decide(ACCOUNTS)
    assert spike is not None
    assert (spike.latency_s, spike.status, spike.drop) == (0.3, None, None)
    longer = faults.decide("/v1/accounts/a/models")
    assert longer is not None
    assert longer.latency_s == 0.5
    assert faults.stats() == {"total": 2, "latency_spike": 2, "latency": 2}


def test_a_hold_keeps_a_request_until_released(emu: Emulator, http: httpx.Client) -> None:
    rule = emu.faults.add(ACCOUNTS, statuses=[], hold=True)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(http.get, ACCOUNTS)
        try:
            assert rule.wait_held(timeout=60), "the request was never held"
            assert not answer.done()
            assert rule.describe()["held"] == 1
            assert http.get("/v1/accounts/emulator/models/x").status_code == 404  # not held
        finally:
            rule.release()
        assert answer.result(timeout=60).status_code == 200
    assert rule.held == 0
    assert http.get(ACCOUNTS).status_code == 200  # once released, requests pass
    assert emu.faults.stats() == {"total": 2, "held": 2}


def test_clear_releases_a_hold_that_answers_a_status(emu: Emulator, http: httpx.Client) -> None:
    rule = emu.faults.add(ACCOUNTS, statuses=[502], hold=True)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(http.get, ACCOUNTS)
        try:
            assert rule.wait_held(timeout=60), "the request was never held"
        finally:
            emu.faults.clear()
        assert answer.result(timeout=60).status_code == 502  # decided before the hold
    assert rule.released
    assert http.get(ACCOUNTS).status_code == 200


def test_closing_the_emulator_releases_held_requests(tmp_path: Path) -> None:
    emu = Emulator(tmp_path / "state").start()
    rule = emu.faults.add(ACCOUNTS, statuses=[], hold=True)
    headers = {"X-Api-Key": emu.api_key}
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.get, emu.base_url + ACCOUNTS, headers=headers, timeout=60)
        try:
            assert rule.wait_held(timeout=60), "the request was never held"
        finally:
            emu.close()
        # Answered during the graceful shutdown, not cut off by it.
        assert answer.result(timeout=60).status_code == 200
    assert not rule.released


def test_invalid_rules_are_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="rate"):
        emu.faults.add(rate=2.0)
    with pytest.raises(ValueError, match="script"):
        emu.faults.add(script=["explode"])
    with pytest.raises(ValueError, match="hold"):
        emu.faults.add(statuses=[])


def test_admin_route_switches_faults_and_needs_the_key(emu: Emulator, http: httpx.Client) -> None:
    assert httpx.get(f"{emu.base_url}/_emulator/faults").status_code == 401
    added = http.post("/_emulator/faults", json={"route": ACCOUNTS, "statuses": [502]})
    assert added.status_code == 200
    assert added.json()["statuses"] == [502]
    assert http.get(ACCOUNTS).status_code == 502
    listed = http.get("/_emulator/faults").json()
    assert listed["stats"] == {"total": 1, "502": 1}
    assert [r["route"] for r in listed["rules"]] == [ACCOUNTS]
    assert http.delete("/_emulator/faults").status_code == 200
    assert http.get(ACCOUNTS).status_code == 200
    assert http.post("/_emulator/faults", json={"bogus": 1}).status_code == 400
    assert http.post("/_emulator/faults", json={"rate": 5}).status_code == 400


def test_admin_routes_are_neither_faulted_nor_logged(emu: Emulator, http: httpx.Client) -> None:
    emu.faults.add("*", statuses=[503])
    emu.request_log.clear()
    assert http.get("/_emulator/faults").status_code == 200
    assert list(emu.request_log) == []


def test_admin_preempt_promotion_and_clock(emu: Emulator, http: httpx.Client, job: str) -> None:
    assert http.post(f"/_emulator/jobs/{job}:preempt").status_code == 200
    assert emu.job_state(job) == "JOB_STATE_FAILED"
    mode = http.post(
        "/_emulator/promotion", json={"mode": "async", "seconds": 3, "legacy_async_promotion": True}
    )
    assert mode.json() == {"mode": "async", "seconds": 3, "legacy_async_promotion": True}
    assert http.post("/_emulator/promotion", json={"mode": "weird"}).status_code == 400
    assert http.post("/_emulator/clock", json={"advance_seconds": 10}).status_code == 200
