"""Trainer processes: sessions, models, futures and their ``seq_id`` ordering.

One :class:`Trainer` per job generation: preemption throws it away (waiting futures fail)
and ``:resume`` starts a fresh one, as a restarted trainer process would. Ops of one model
run in ``seq_id`` order; a repeated ``(model_id, seq_id)`` or a repeated ``X-Idempotency-Key``
answers the original request id; an op above a gap waits for the missing lower ones.
``unload_model`` frees a model: later ops on its id are refused with 404, a second unload
answers again (idempotent), and an op still waiting for a gap fails.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .jobs import RUNNING, Jobs
from .model import BigramModel, UserError
from .ops import LiveModel, Ops
from .rows import Rows
from .service import Service
from .settings import Settings
from .store import Clock, Store
from .wire import ApiError

__all__ = ["Future", "Trainer", "Trainers"]

logger = logging.getLogger(__name__)


@dataclass
class Future:
    """One submitted request and, once it ran, its result or failure."""

    request_id: str
    job_id: str
    model_id: str
    op: str
    body: dict[str, Any]
    idempotency_key: str | None = None
    result: dict[str, Any] | None = None
    done_us: int | None = None


@dataclass
class QueuedModel(LiveModel):
    """A live model with its ops queue: the next ``seq_id`` to run, and who waits."""

    next_seq: int = 1
    by_seq: dict[int, str] = field(default_factory=dict)
    waiting: dict[int, Future] = field(default_factory=dict)


@dataclass
class Trainer:
    """One trainer process of a job."""

    sessions: set[str] = field(default_factory=set)
    models: dict[str, QueuedModel] = field(default_factory=dict)
    created: dict[tuple[str, int], str] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)  # X-Idempotency-Key -> request id
    latest_model: str | None = None
    unloaded: set[str] = field(default_factory=set)

    def submitted(self, fut: Future) -> dict[str, Any]:
        """The submit answer for ``fut``, remembering its idempotency key."""
        if fut.idempotency_key:
            self.by_key.setdefault(fut.idempotency_key, fut.request_id)
        return {"request_id": fut.request_id, "model_id": fut.model_id}


def _failure(message: str, category: str) -> dict[str, Any]:
    return {"error": message, "category": category}


class Trainers(Service):
    """Every job's trainer, and the futures of all of them."""

    def __init__(
        self, store: Store, clock: Clock, settings: Settings, jobs: Jobs, rows: Rows
    ) -> None:
        super().__init__(store, clock, settings)
        self._jobs = jobs
        self._rows = rows
        self._ops = Ops(store, settings, rows)
        self._trainers: dict[str, Trainer] = {}
        self._futures: dict[str, Future] = {}

    # -- processes -------------------------------------------------------------------------

    def running(self, job_id: str) -> Trainer:
        """The job's trainer; 404 for an unknown job, 503 while it is not RUNNING."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job.state != RUNNING:
                raise ApiError(
                    503, f"trainer job {job_id!r} is {job.state}", headers={"Retry-After": "1"}
                )
            return self._trainers.setdefault(job_id, Trainer())

    def crash(self, job_id: str, message: str) -> None:
        """Drop the job's trainer process; every waiting future fails."""
        with self._lock:
            trainer = self._trainers.pop(job_id, None)
            if trainer is None:
                return
            now = self._clock.now_us()
            for live in trainer.models.values():
                for fut in live.waiting.values():
                    fut.result, fut.done_us = _failure(message, "server"), now
                live.waiting.clear()

    def _latest(self, job_id: str) -> BigramModel:
        trainer = self._trainers.get(job_id)
        if trainer is None or trainer.latest_model is None:
            raise LookupError(f"trainer job {job_id!r} has no model; call create_model first")
        return trainer.models[trainer.latest_model].model

    def weights(self, job_id: str) -> NDArray[np.float32]:
        """A copy of the effective weights of the job's most recently created model."""
        with self._lock:
            return np.array(self._latest(job_id).effective_weights(), copy=True)

    def digest(self, job_id: str) -> str:
        """sha256 of the trainable parameters of the job's most recently created model."""
        with self._lock:
            return self._latest(job_id).digest()

    # -- sessions and models ------------------------------------------------------------

    def create_session(self, job_id: str) -> dict[str, Any]:
        """A new session id (8 lowercase hex)."""
        with self._lock:
            session_id = secrets.token_hex(4)
            self.running(job_id).sessions.add(session_id)
            return {"type": "create_session", "session_id": session_id}

    def heartbeat(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """200 for a live session, 404 otherwise."""
        with self._lock:
            if body.get("session_id") not in self.running(job_id).sessions:
                raise ApiError(
                    404, f"session {body.get('session_id')!r} not found", reason="NOT_FOUND"
                )
            return {"type": "session_heartbeat"}

    def create_model(
        self, job_id: str, body: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit ``create_model``: a fresh model from the base weights, as a future."""
        with self._lock:
            trainer, repeated = self._open(job_id, idempotency_key)
            if repeated is not None:
                return repeated
            session_id, model_seq = body.get("session_id"), body.get("model_seq_id", 0)
            if session_id not in trainer.sessions:
                raise ApiError(404, f"session {session_id!r} not found", reason="NOT_FOUND")
            key = (str(session_id), int(model_seq) if isinstance(model_seq, int) else 0)
            if key in trainer.created:
                return trainer.submitted(self._futures[trainer.created[key]])
            model_id = f"model-{secrets.token_hex(6)}"
            fut = self._new_future(job_id, model_id, "create_model", body, idempotency_key)
            trainer.created[key] = fut.request_id
            try:
                model = self._build_model(job_id, body)
            except UserError as exc:
                self._finish(fut, _failure(str(exc), "user"))
            else:
                trainer.models[model_id] = QueuedModel(model_id, model)
                trainer.latest_model = model_id
                self._finish(fut, {"type": "create_model", "model_id": model_id})
            return trainer.submitted(fut)

    def _build_model(self, job_id: str, body: dict[str, Any]) -> BigramModel:
        job = self._jobs.get(job_id)
        base_model = body.get("base_model", job.base_model)
        if base_model != job.base_model:
            raise UserError(f"trainer job {job_id!r} serves {job.base_model!r}, not {base_model!r}")
        lora = body.get("lora_config")
        rank = lora.get("rank", 0) if isinstance(lora, dict) else 0
        if rank != job.lora_rank:
            raise UserError(
                f"trainer job {job_id!r} is configured for lora_rank={job.lora_rank}, "
                f"create_model asked for {rank}"
            )
        return BigramModel.create(job.base_model, job.lora_rank)

    # -- futures --------------------------------------------------------------------------

    def _new_future(
        self, job_id: str, model_id: str, op: str, body: dict[str, Any], key: str | None
    ) -> Future:
        fut = Future(f"req-{secrets.token_hex(8)}", job_id, model_id, op, body, key)
        self._futures[fut.request_id] = fut
        return fut

    def _open(self, job_id: str, key: str | None) -> tuple[Trainer, dict[str, Any] | None]:
        """The running trainer, and the original answer if ``key`` was submitted to it."""
        trainer = self.running(job_id)
        if key is None or key not in trainer.by_key:
            return trainer, None
        return trainer, trainer.submitted(self._futures[trainer.by_key[key]])

    def _finish(self, fut: Future, result: dict[str, Any]) -> None:
        fut.result, fut.done_us = result, self._clock.now_us()

    def submit(
        self, job_id: str, op: str, body: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Queue an op by ``seq_id``; run every op whose turn has come."""
        with self._lock:
            trainer, repeated = self._open(job_id, idempotency_key)
            if repeated is not None:
                return repeated
            live = self._loaded(trainer, body.get("model_id"))
            seq = body.get("seq_id")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
                raise ApiError(400, f"seq_id must be a positive integer, got {seq!r}")
            if seq in live.by_seq:
                return trainer.submitted(self._futures[live.by_seq[seq]])
            fut = self._new_future(job_id, live.model_id, op, body, idempotency_key)
            live.by_seq[seq] = fut.request_id
            live.waiting[seq] = fut
            while live.next_seq in live.waiting:
                self._run(job_id, live, live.waiting.pop(live.next_seq))
                live.next_seq += 1
            return trainer.submitted(fut)

    @staticmethod
    def _loaded(trainer: Trainer, model_id: Any) -> QueuedModel:
        """The live model ``model_id``; 404 when it was unloaded or never existed."""
        live = trainer.models.get(model_id) if isinstance(model_id, str) else None
        if live is not None:
            return live
        if model_id in trainer.unloaded:
            raise ApiError(
                404, f"model {model_id!r} is not loaded: it was unloaded", reason="NOT_FOUND"
            )
        raise ApiError(404, f"model {model_id!r} not found on this trainer", reason="NOT_FOUND")

    def unload(
        self, job_id: str, body: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Submit ``unload_model`` (no ``seq_id``): free the model, as a finished future.

        Ops that already ran keep their results; an op still waiting for a lower ``seq_id``
        never runs and fails. Unloading an unloaded model answers the same result again.
        """
        with self._lock:
            trainer, repeated = self._open(job_id, idempotency_key)
            if repeated is not None:
                return repeated
            model_id = body.get("model_id")
            if not (isinstance(model_id, str) and model_id in trainer.unloaded):
                live = self._loaded(trainer, model_id)
                now = self._clock.now_us()
                for fut in live.waiting.values():
                    fut.result, fut.done_us = (
                        _failure(f"model {live.model_id!r} was unloaded", "user"),
                        now,
                    )
                del trainer.models[live.model_id]
                trainer.unloaded.add(live.model_id)
                if trainer.latest_model == live.model_id:
                    trainer.latest_model = None
            fut = self._new_future(job_id, str(model_id), "unload_model", body, idempotency_key)
            self._finish(fut, {"type": "unload_model", "model_id": model_id})
            return trainer.submitted(fut)

    def capabilities(self, job_id: str) -> dict[str, Any]:
        """``get_server_capabilities``: the catalog's base models, and the job's own.

        Every base model trains as the same bigram, so each one the catalog publishes is
        listed; the job's base model is added when the catalog does not name it.
        """
        with self._lock:
            self.running(job_id)
            job = self._jobs.get(job_id)
            models = [
                {"model_name": spec.name, "max_context_length": spec.context_length}
                for spec in self._settings.base_models
            ]
            if all(m["model_name"] != job.base_model for m in models):
                models.append({"model_name": job.base_model})
            return {"supported_models": models}

    def poll(self, job_id: str, request_id: str) -> dict[str, Any] | None:
        """The result of a future, None while pending; 410 when unknown or expired."""
        with self._lock:
            self.running(job_id)
            fut = self._futures.get(request_id)
            ttl_us = int(self._settings.future_ttl_seconds * 1_000_000)
            if (
                fut is None
                or fut.job_id != job_id
                or (fut.done_us is not None and fut.done_us + ttl_us <= self._clock.now_us())
            ):
                raise ApiError(
                    410, f"future {request_id!r} is unknown or expired", reason="EXPIRED"
                )
            return fut.result

    # -- ops ------------------------------------------------------------------------------

    def _run(self, job_id: str, live: QueuedModel, fut: Future) -> None:
        try:
            result = self._ops.run(job_id, live, fut.op, fut.body)
        except UserError as exc:
            result = _failure(str(exc), "user")
        except Exception as exc:
            logger.exception("emulator op %s failed", fut.op)
            result = _failure(f"{type(exc).__name__}: {exc}", "server")
        self._finish(fut, result)

    def state_names(self, job_id: str) -> dict[str, Any]:
        """``list_checkpoints``: the job's loadable state checkpoint names."""
        with self._lock:
            self.running(job_id)
            return {"checkpoints": self._rows.state_names(job_id)}
