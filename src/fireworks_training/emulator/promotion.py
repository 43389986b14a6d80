"""Promotion of checkpoint rows to models, long-running operations, and model records."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from . import kinds
from .jobs import Jobs
from .names import checkpoint_name, model_id_problems, model_name, parse_name
from .rows import Rows
from .service import Service, lookup
from .settings import Settings
from .store import Clock, ModelRecord, OperationRecord, Store
from .wire import ApiError, format_us

__all__ = ["MODEL_TYPE_URL", "Promotions"]

MODEL_TYPE_URL = "type.googleapis.com/gateway.Model"
_FIELDS = {"output_model", "trainer_job_id", "base_model", "hot_load_deployment_id"}
_TARGET_MODULES = ["bigram"]


def _unknown_field(name: str) -> ApiError:
    return ApiError(
        400,
        f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.',
        reason="INVALID_ARGUMENT",
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Promotions(Service):
    """``:promote``, ``GET models/{id}`` and ``GET operations/{id}``."""

    def __init__(self, store: Store, clock: Clock, settings: Settings, jobs: Jobs, rows: Rows):
        super().__init__(store, clock, settings)
        self._jobs = jobs
        self._rows = rows

    def _check_fields(self, body: dict[str, Any]) -> None:
        allowed = set(_FIELDS)
        if not self._settings.legacy_async_promotion:
            allowed.add("async_promotion")
        for name in body:
            if name not in allowed:
                raise _unknown_field(name)

    def _output_model_id(self, body: dict[str, Any]) -> str:
        value = body.get("output_model")
        ids = parse_name(value, "models")
        if ids is None or ids[0] != self._account:
            raise ApiError(
                400,
                f"output_model must be 'accounts/{self._account}/models/<id>', got {value!r}",
                reason="INVALID_ARGUMENT",
            )
        problems = model_id_problems(ids[1])
        if problems:
            raise ApiError(
                400,
                f"invalid output model id {ids[1]!r}: " + "; ".join(problems),
                reason="INVALID_ARGUMENT",
            )
        return ids[1]

    def _job_id(self, body: dict[str, Any]) -> str:
        value = body.get("trainer_job_id")
        ids = parse_name(value, "rlorTrainerJobs")
        if ids is None:
            raise ApiError(400, f"invalid trainer_job_id {value!r}", reason="INVALID_ARGUMENT")
        if ids[0] != self._account:
            raise ApiError(403, f"no access to {value!r}", reason="PERMISSION_DENIED")
        self._jobs.get(ids[1])
        return ids[1]

    def promote(self, checkpoint_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, create the model, answer ``{"model"}`` or ``{"operation"}``."""
        self._check_fields(body)
        model_id = self._output_model_id(body)
        base_model = body.get("base_model")
        if not isinstance(base_model, str) or not base_model:
            raise ApiError(400, "base_model is required", reason="INVALID_ARGUMENT")
        with self._lock:
            job_id = self._job_id(body)
            row = self._rows.find(job_id, checkpoint_id)
            if row is None:
                raise ApiError(
                    404,
                    f"checkpoint {checkpoint_id!r} not found in trainer job {job_id!r}",
                    reason="CHECKPOINT_NOT_FOUND",
                )
            if not row.promotable:
                raise ApiError(
                    400,
                    f"checkpoint {checkpoint_id!r} is {row.checkpoint_type}, which is not "
                    "promotable; save it with checkpoint_type='base'",
                    reason="CHECKPOINT_NOT_PROMOTABLE",
                    status_name="FAILED_PRECONDITION",
                )
            if model_id in self._store.models:
                raise ApiError(
                    409,
                    f"model 'accounts/{self._account}/models/{model_id}' already exists",
                    reason="MODEL_ALREADY_EXISTS",
                )
            wants_async = body.get("async_promotion") is True
            return self._create(model_id, job_id, checkpoint_id, base_model, wants_async)

    def _create(
        self, model_id: str, job_id: str, checkpoint_id: str, base_model: str, wants_async: bool
    ) -> dict[str, Any]:
        row = self._store.rows(job_id)[checkpoint_id]
        lora = row.checkpoint_type == kinds.INFERENCE_LORA
        now = self._clock.now_us()
        is_async = wants_async and self._settings.promotion_mode == "async"
        ready = now + int(self._settings.promotion_seconds * 1_000_000) if is_async else now
        record = ModelRecord(
            model_id=model_id,
            kind="HF_PEFT_ADDON" if lora else "HF_BASE_MODEL",
            base_model=base_model,
            lora_rank=self._store.jobs[job_id].lora_rank if lora else 0,
            source_checkpoint=checkpoint_name(self._account, job_id, checkpoint_id),
            create_us=now,
            ready_us=ready,
        )
        if row.has_file:
            self._copy_weights(job_id, checkpoint_id, model_id)
        op = None if not is_async else OperationRecord(secrets.token_hex(8), model_id, now, ready)
        self._publish(record, op)
        if op is None:
            return {"model": self._model_json(record)}
        return {"operation": self._operation_json(op)}

    def _copy_weights(self, job_id: str, checkpoint_id: str, model_id: str) -> None:
        """Copy the checkpoint's blob to the model's place and verify it, or raise a 500.

        Runs before the model exists, so a failure leaves nothing behind.
        """
        source = self._store.checkpoint_path(job_id, checkpoint_id)
        target = self._store.model_path(model_id)
        staged = target.with_name(target.name + ".staging")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staged)
            if _digest(staged) != _digest(source):
                raise OSError("the copy differs from the checkpoint")
            os.replace(staged, target)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise ApiError(
                500,
                f"promotion of checkpoint {checkpoint_id!r} of trainer job {job_id!r} failed, "
                f"no model was created: cannot copy its weights ({exc.strerror or exc})",
                reason="PROMOTION_FAILED",
                status_name="DATA_LOSS",
            ) from exc

    def _publish(self, record: ModelRecord, op: OperationRecord | None) -> None:
        """Add the model (and its operation) and persist them; undo all of it on failure."""
        self._store.models[record.model_id] = record
        if op is not None:
            self._store.operations[op.operation_id] = op
        try:
            self._store.save()
        except OSError as exc:
            del self._store.models[record.model_id]
            if op is not None:
                del self._store.operations[op.operation_id]
            self._store.model_path(record.model_id).unlink(missing_ok=True)
            raise ApiError(
                500,
                f"promotion to model {record.model_id!r} failed, no model was created: "
                f"cannot record it ({exc.strerror or exc})",
                reason="PROMOTION_FAILED",
            ) from exc

    def _model_json(self, record: ModelRecord) -> dict[str, Any]:
        ready = record.ready_us <= self._clock.now_us()
        body: dict[str, Any] = {
            "name": model_name(self._account, record.model_id),
            "displayName": record.model_id,
            "state": "READY" if ready else "UPLOADING",
            "kind": record.kind,
            "baseModel": record.base_model,
            "sourceCheckpoint": record.source_checkpoint,
            "createTime": format_us(record.create_us),
        }
        if record.kind == "HF_PEFT_ADDON":
            body["peftDetails"] = {
                "baseModel": record.base_model,
                "r": record.lora_rank,
                "targetModules": list(_TARGET_MODULES),
            }
        return body

    def _operation_json(self, op: OperationRecord) -> dict[str, Any]:
        done = op.done_us <= self._clock.now_us()
        body: dict[str, Any] = {
            "name": f"accounts/{self._account}/operations/{op.operation_id}",
            "done": done,
            "metadata": {
                "statusMessage": "promotion complete" if done else "copying checkpoint to model",
                "createTime": format_us(op.create_us),
            },
        }
        if done:
            model = self._model_json(self._store.models[op.model_id])
            body["response"] = {"@type": MODEL_TYPE_URL, **model}
        return body

    def get_model(self, model_id: str) -> dict[str, Any]:
        """A model by id; 404 when unknown."""
        with self._lock:
            return self._model_json(lookup(self._store.models, model_id, "model"))

    def get_operation(self, operation_id: str) -> dict[str, Any]:
        """An operation by id; 404 when unknown."""
        with self._lock:
            return self._operation_json(lookup(self._store.operations, operation_id, "operation"))
