"""Compat tests: cookbook call forms against the emulator (the packaged ``fireworks_emulator``).

``trained_job`` gives a trainer job with real rows: a small driver speaks the trainer API
directly (as any client would) to save training state and sampler snapshots, so these tests
depend on the control-plane client under test and nothing else of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

pytest.importorskip("uvicorn")
from fireworks_training.emulator import Emulator

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"


@dataclass
class RawTrainer:
    """One session and model on a job's trainer, driven over plain HTTP."""

    http: httpx.Client
    url: str
    session_id: str = ""
    model_id: str = ""
    seq: int = 0
    saved: list[str] = field(default_factory=list)

    def start(self, base_model: str = BASE_MODEL) -> RawTrainer:
        session = self._post(
            "create_session",
            {"tags": [], "user_metadata": {}, "sdk_version": "0.23.0", "type": "create_session"},
        )
        self.session_id = session["session_id"]
        body = {
            "session_id": self.session_id,
            "model_seq_id": 0,
            "base_model": base_model,
            "lora_config": {
                "rank": 0,
                "train_unembed": True,
                "train_mlp": True,
                "train_attn": True,
            },
            "type": "create_model",
        }
        self.model_id = self._wait(self._post("create_model", body)["request_id"])["model_id"]
        return self

    def save_state(self, name: str) -> dict[str, Any]:
        return self._run("save_weights", {"path": name, "overwrite": False})

    def save_sampler(self, name: str) -> str:
        """A base sampler snapshot; its name as sent (``<name>-<session id>``)."""
        snapshot = f"{name}-{self.session_id}"
        self._run("save_weights_for_sampler", {"path": snapshot, "checkpoint_type": "base"})
        return snapshot

    def _run(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        payload = {"model_id": self.model_id, "seq_id": self.seq, "type": op, **body}
        return self._wait(self._post(op, payload)["request_id"])

    def _post(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.url}/api/v1/{op}", json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def _wait(self, request_id: str) -> dict[str, Any]:
        for _ in range(200):
            body = self._post(
                "retrieve_future", {"request_id": request_id, "allow_metadata_only": False}
            )
            if body.get("type") != "try_again":
                assert "error" not in body, body
                return body
        raise AssertionError("the future never finished")


@dataclass(frozen=True)
class TrainedJob:
    """A job with two state rows and two promotable sampler rows (step-1 and step-2)."""

    emulator: Emulator
    job_id: str
    snapshots: tuple[str, str]  # sampler checkpoint ids, step-1 then step-2

    @property
    def job_name(self) -> str:
        return f"accounts/{self.emulator.account_id}/rlorTrainerJobs/{self.job_id}"

    def row_name(self, checkpoint_id: str) -> str:
        return f"{self.job_name}/checkpoints/{checkpoint_id}"


@pytest.fixture
def emu(fireworks_emulator: Emulator) -> Emulator:
    return fireworks_emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"X-Api-Key": emu.api_key}, timeout=30) as client:
        yield client


@pytest.fixture
def trained_job(emu: Emulator, http: httpx.Client) -> TrainedJob:
    job_id = emu.create_trainer_job(job_id="compat-job")
    trainer = RawTrainer(http, emu.trainer_url(job_id)).start()
    snapshots = []
    for step in (1, 2):
        trainer.save_state(f"step-{step}")
        snapshots.append(trainer.save_sampler(f"step-{step}"))
    emu.request_log.clear()
    return TrainedJob(emu, job_id, (snapshots[0], snapshots[1]))


def control_plane_requests(emu: Emulator) -> list[tuple[str, str]]:
    """(method, path with query) of every control-plane request the emulator received."""
    return [(r.method, r.path) for r in emu.request_log if r.path.startswith("/v1/")]
