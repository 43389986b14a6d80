"""In-memory services behind the workflow's Protocols, sharing one list of rows.

A state save adds a ``TRAINING`` row and a sampler save an ``INFERENCE_BASE`` row, as the
real services do, so the control plane lists what the trainer saved. Every call is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fireworks_training.checkpoints import Checkpoint, Model, SaveSamplerResult
from fireworks_training.errors import APIConnectionError, ConflictError, NotFoundError

JOB = "job-abc"
ACCOUNT = "acme"
BASE = "accounts/fireworks/models/qwen3-8b"
PREFIX = f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/"
SESSION = "0a1b2c3d"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Done:
    value: Any

    def result(self, timeout: float | None = None) -> Any:
        return self.value


@dataclass
class SavedState:
    """What ``save_state`` resolves to in tinker: an object with ``.path``."""

    path: str


@dataclass
class Server:
    """Rows, models and the log of every call made to either fake."""

    rows: list[Checkpoint] = field(default_factory=list)
    models: dict[str, Model] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    clock: int = 0

    def add(
        self,
        cid: str,
        ctype: str = "TRAINING",
        *,
        promotable: bool = False,
        created: str | None = None,
        job: str = JOB,
    ) -> None:
        self.clock += 1
        when = created or (_EPOCH + timedelta(seconds=self.clock)).isoformat().replace(
            "+00:00", "Z"
        )
        name = f"accounts/{ACCOUNT}/rlorTrainerJobs/{job}/checkpoints/{cid}"
        self.rows = [r for r in self.rows if r.name != name]
        self.rows.append(
            Checkpoint.model_validate(
                {
                    "name": name,
                    "createTime": when,
                    "checkpointType": ctype,
                    "promotable": promotable,
                }
            )
        )

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


@dataclass
class FakeTrainer:
    server: Server
    fail_on: str | None = None
    job: str = JOB

    def save_state(
        self, name: str, ttl_seconds: int | None = None, overwrite: bool = False
    ) -> Done:
        self._call("save_state", (name, overwrite))
        self.server.add(name, "TRAINING", job=self.job)
        return Done(SavedState(f"tinker://{self.job}/weights/{name}"))

    def save_weights_for_sampler_ext(
        self, name: str, checkpoint_type: Any = None, ttl_seconds: int | None = None
    ) -> SaveSamplerResult:
        self._call(f"sampler:{checkpoint_type}", name)
        snapshot = f"{name}-{SESSION}"
        self.server.add(snapshot, "INFERENCE_BASE", promotable=True, job=self.job)
        return SaveSamplerResult(path=f"sampler/{snapshot}", snapshot_name=snapshot)

    def load_state_with_optimizer(self, path: str) -> Done:
        self._call("load_state_with_optimizer", path)
        return Done(None)

    def _call(self, op: str, arg: Any) -> None:
        if self.fail_on == op:
            raise APIConnectionError(f"{op} failed")
        self.server.calls.append((op, arg))


@dataclass
class LegacyTrainer(FakeTrainer):
    """A training client whose ``save_state`` takes no ``overwrite=`` (and returns a str)."""

    def save_state(self, name: str, ttl_seconds: int | None = None) -> Done:  # type: ignore[override]
        self._call("save_state", (name, False))
        self.server.add(name, "TRAINING", job=self.job)
        return Done(f"tinker://{self.job}/weights/{name}")


@dataclass
class FakeControl:
    server: Server
    down: bool = False
    gone: set[str] = field(default_factory=set)
    conflict_once: bool = False
    states_before_ready: int = 0  # get_model answers UPLOADING this many times

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        self.server.calls.append(("list", job_id))
        if self.down:
            raise APIConnectionError("connection refused")
        short = job_id.rsplit("/", 1)[-1]
        if short in self.gone:
            raise NotFoundError("404 GET /v1/...: job not found", status_code=404)
        return [r for r in self.server.rows if r.job_id == short]

    def get_model(self, model_id: str) -> Model:
        self.server.calls.append(("get_model", model_id))
        model = self.server.models[model_id]
        if self.states_before_ready:
            self.states_before_ready -= 1
            return Model.model_validate({**model.to_wire(), "state": "UPLOADING"})
        return model

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: Any = None,
    ) -> Model:
        assert job_id is None
        assert checkpoint_id is None
        self.server.calls.append(("promote", (str(name), output_model_id, base_model)))
        if self.conflict_once:
            self.conflict_once = False
            raise ConflictError("409 POST /v1/...: model exists", status_code=409)
        model = Model.model_validate(
            {
                "name": f"accounts/{ACCOUNT}/models/{output_model_id}",
                "state": "READY",
                "sourceCheckpoint": str(name),
            }
        )
        self.server.models[str(output_model_id)] = model
        return model
