"""Trainer jobs on the control plane: create, get, delete, resume, fail (docs/protocol.md §1.5)."""

from __future__ import annotations

import secrets
from typing import Any

from .names import job_name, resource_id_problem
from .service import Service, lookup
from .store import Job
from .wire import ApiError, format_us

__all__ = ["RESUMABLE_STATES", "Jobs", "job_json"]

PENDING = "JOB_STATE_PENDING"
RUNNING = "JOB_STATE_RUNNING"
FAILED = "JOB_STATE_FAILED"
DELETED = "JOB_STATE_DELETED"
RESUMABLE_STATES = frozenset(
    {FAILED, "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED", "JOB_STATE_COMPLETED"}
)


def job_json(job: Job, account: str) -> dict[str, Any]:
    """A job as the control plane answers it (camelCase)."""
    config: dict[str, Any] = {"baseModel": job.base_model, "loraRank": job.lora_rank}
    if job.learning_rate is not None:
        config["learningRate"] = job.learning_rate
    if job.max_context_length is not None:
        config["maxContextLength"] = job.max_context_length
    body: dict[str, Any] = {
        "name": job_name(account, job.job_id),
        "state": job.state,
        "serviceMode": True,
        "trainingConfig": config,
        "createTime": format_us(job.create_us),
        "updateTime": format_us(job.update_us),
    }
    if job.display_name is not None:
        body["displayName"] = job.display_name
    if job.node_count is not None:
        body["nodeCount"] = job.node_count
    if job.status_message:
        body["statusMessage"] = job.status_message
    return body


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("trainingConfig")
    if not isinstance(config, dict) or not isinstance(config.get("baseModel"), str):
        raise ApiError(400, "trainingConfig.baseModel is required", reason="INVALID_ARGUMENT")
    rank = config.get("loraRank", 0) or 0
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 0:
        raise ApiError(400, "trainingConfig.loraRank must be a non-negative integer")
    return config


class Jobs(Service):
    """The job records and their state machine; states advance lazily when read."""

    def _start_pending(self, job: Job) -> None:
        delay = int(self._settings.job_start_seconds * 1_000_000)
        job.state = PENDING
        job.running_at_us = self._clock.now_us() + delay
        job.update_us = self._clock.now_us()

    def create(self, job_id: str | None, body: dict[str, Any]) -> Job:
        """A new job in PENDING; 409 when the id exists."""
        job_id = job_id or f"emu-{secrets.token_hex(4)}"
        problem = resource_id_problem(job_id, "trainer job id")
        if problem:
            raise ApiError(400, problem, reason="INVALID_ARGUMENT")
        config = _config(body)
        with self._lock:
            if job_id in self._store.jobs:
                raise ApiError(
                    409, f"trainer job {job_id!r} already exists", reason="ALREADY_EXISTS"
                )
            now = self._clock.now_us()
            job = Job(
                job_id=job_id,
                base_model=config["baseModel"],
                lora_rank=int(config.get("loraRank") or 0),
                learning_rate=config.get("learningRate"),
                max_context_length=config.get("maxContextLength"),
                display_name=body.get("displayName"),
                node_count=body.get("nodeCount"),
                state=PENDING,
                create_us=now,
                update_us=now,
            )
            self._start_pending(job)
            self._store.jobs[job_id] = job
            self._store.save()
            return job

    def ensure(self, job_id: str | None, body: dict[str, Any]) -> Job:
        """Create the job, or return the existing one of the same base model and rank.

        Idempotent by id, as a client that fetches the job after a 409; another
        configuration under the same id is a ``ValueError``.
        """
        config = _config(body)
        with self._lock:
            existing = self._store.jobs.get(job_id or "")
            if existing is None:
                return self.create(job_id, body)
        wanted = (config["baseModel"], int(config.get("loraRank") or 0))
        if (existing.base_model, existing.lora_rank) != wanted:
            raise ValueError(
                f"trainer job {job_id!r} exists with base_model={existing.base_model!r}, "
                f"lora_rank={existing.lora_rank}"
            )
        return existing

    def get(self, job_id: str) -> Job:
        """The job, its state brought up to date; 404 when unknown."""
        with self._lock:
            job = lookup(self._store.jobs, job_id, "trainer job")
            if job.state == PENDING and (job.running_at_us or 0) <= self._clock.now_us():
                job.state = RUNNING
                job.update_us = self._clock.now_us()
                self._store.save()
            return job

    def set_state(self, job_id: str, state: str, message: str | None = None) -> Job:
        """Force a state (preemption, deletion)."""
        with self._lock:
            job = self.get(job_id)
            job.state = state
            job.status_message = message
            job.update_us = self._clock.now_us()
            self._store.save()
            return job

    def resume(self, job_id: str) -> Job:
        """From a resumable state back to PENDING (then RUNNING); 400 otherwise."""
        with self._lock:
            job = self.get(job_id)
            if job.state not in RESUMABLE_STATES:
                raise ApiError(
                    400,
                    f"trainer job {job_id!r} is {job.state}; only "
                    f"{', '.join(sorted(RESUMABLE_STATES))} can be resumed",
                    reason="FAILED_PRECONDITION",
                    status_name="FAILED_PRECONDITION",
                )
            job.generation += 1
            job.status_message = None
            self._start_pending(job)
            self._store.save()
            return job
