"""The ops a trainer runs for a model: forward/backward, Adam steps, saves and loads.

``load_adapter`` reads a LoRA adapter this emulator wrote (a LoRA ``save_weights_for_sampler``
of any job, or a model promoted from one) into a LoRA model: weights only, Adam starts over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import blobs
from .datums import parse_data, tensor_json
from .model import AdamParams, BigramModel, UserError
from .names import CROSS_JOB, checkpoint_id_problem, parse_name
from .rows import Rows
from .settings import Settings
from .store import Store

__all__ = ["SAMPLER_TYPES", "LiveModel", "Ops"]

SAMPLER_TYPES = ("base", "delta", "merged_base")
_ADAM_KEYS = ("learning_rate", "beta1", "beta2", "eps", "weight_decay", "grad_clip_norm")


@dataclass
class LiveModel:
    """A model inside a trainer process, and its last whole-weights sampler save."""

    model_id: str
    model: BigramModel
    last_base: str | None = None


def _checkpoint_id(value: Any) -> str:
    """A checkpoint name from a request, surrounding whitespace stripped; else a user error."""
    name = value.strip() if isinstance(value, str) else value
    problem = checkpoint_id_problem(name)
    if problem:
        raise UserError(problem)
    return str(name)


class Ops:
    """Runs one op on a live model; a bad input raises :class:`UserError`."""

    def __init__(self, store: Store, settings: Settings, rows: Rows) -> None:
        self._store = store
        self._settings = settings
        self._rows = rows

    def run(self, job_id: str, live: LiveModel, op: str, body: dict[str, Any]) -> dict[str, Any]:
        """The result of ``op`` on ``live``'s model."""
        if op in ("forward_backward", "forward"):
            return self._forward(live, body, backward=op == "forward_backward")
        if op == "optim_step":
            return self._optim_step(live, body)
        if op == "save_weights":
            return self._save_state(job_id, live, body)
        if op == "load_weights":
            return self._load_state(job_id, live, body)
        if op == "save_weights_for_sampler":
            return self._save_sampler(job_id, live, body)
        if op == "load_adapter":
            return self._load_adapter(job_id, live, body)
        raise UserError(f"unknown op {op!r}")

    def _forward(self, live: LiveModel, body: dict[str, Any], *, backward: bool) -> dict[str, Any]:
        key = "forward_backward_input" if backward else "forward_input"
        examples, _ = parse_data(body.get(key, body.get("forward_backward_input")))
        if backward:
            outputs, total = live.model.forward_backward(examples)
        else:
            outputs, total, _ = live.model.forward(examples)
        return {
            "loss_fn_output_type": "ArrayRecord",
            "loss_fn_outputs": [{"logprobs": tensor_json(o)} for o in outputs],
            "metrics": {"loss:sum": total},
        }

    def _optim_step(self, live: LiveModel, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("adam_params", body.get("optim_params"))
        if not isinstance(raw, dict):
            raise UserError("optim_step needs adam_params")
        try:
            params = AdamParams(**{k: float(raw[k]) for k in _ADAM_KEYS if k in raw})
        except (TypeError, ValueError) as exc:
            raise UserError(f"invalid adam_params: {exc}") from exc
        return {"type": "optim_step", "metrics": live.model.optim_step(params)}

    def _save_state(self, job_id: str, live: LiveModel, body: dict[str, Any]) -> dict[str, Any]:
        name = _checkpoint_id(body.get("path"))
        replace = body.get("overwrite") is True or self._settings.legacy_state_overwrite
        if not replace and self._rows.find(job_id, name) is not None:
            raise UserError(
                f"checkpoint {name!r} already exists in trainer job {job_id!r}; "
                "save it with overwrite=true to replace it"
            )
        blobs.write_state(self._store.checkpoint_path(job_id, name), live.model)
        self._rows.record(job_id, name, body.get("ttl_seconds"))
        return {"type": "save_weights", "path": f"{CROSS_JOB}{job_id}/{name}"}

    def _resolve(self, job_id: str, reference: Any) -> tuple[str, str]:
        if not isinstance(reference, str) or not reference.strip():
            raise UserError("load_weights needs a path")
        ref = reference.strip()
        if ref.startswith(CROSS_JOB):
            source, _, name = ref[len(CROSS_JOB) :].partition("/")
            if source not in self._store.jobs:
                raise UserError(f"checkpoint {ref!r} not found: no trainer job {source!r}")
            return source, _checkpoint_id(name)
        return job_id, _checkpoint_id(ref)

    def _load_state(self, job_id: str, live: LiveModel, body: dict[str, Any]) -> dict[str, Any]:
        source, name = self._resolve(job_id, body.get("path"))
        row = self._rows.find(source, name)
        if row is None or not row.has_file:
            raise UserError(f"checkpoint {name!r} not found in trainer job {source!r}")
        path = self._store.checkpoint_path(source, name)
        blobs.restore_state(path, live.model, optimizer=bool(body.get("optimizer")))
        return {"type": "load_weights", "path": body.get("path")}

    def _save_sampler(self, job_id: str, live: LiveModel, body: dict[str, Any]) -> dict[str, Any]:
        name = _checkpoint_id(body.get("path"))
        kind = body.get("checkpoint_type") or "base"
        if kind not in SAMPLER_TYPES:
            raise UserError(f"checkpoint_type must be one of {SAMPLER_TYPES}, got {kind!r}")
        previous = None
        if live.last_base is not None and self._rows.find(job_id, live.last_base) is not None:
            previous = self._store.checkpoint_path(job_id, live.last_base)
        path = self._store.checkpoint_path(job_id, name)
        _, is_base = blobs.write_sampler(path, live.model, kind, previous)
        if is_base:
            live.last_base = name
        self._rows.record(job_id, name, body.get("ttl_seconds"))
        self._store.jobs[job_id].sampler_saves += 1
        # The snapshot identity is the name as sent; a deployment attached to this job
        # resolves it in the job's bucket.
        return {"type": "save_weights_for_sampler", "path": name}

    def _adapter_file(self, job_id: str, reference: str) -> Path:
        """The file an adapter reference names; a user error when there is none."""
        model = parse_name(reference, "models")
        if model is not None:
            record = self._store.models.get(model[1])
            if model[0] != self._settings.account_id or record is None:
                raise UserError(f"adapter {reference!r} not found: no such model")
            return self._store.model_path(record.model_id)
        row = parse_name(reference, "rlorTrainerJobs", "checkpoints")
        if row is not None and row[0] == self._settings.account_id:
            reference = f"{CROSS_JOB}{row[1]}/{row[2]}"
        try:
            source, name = self._resolve(job_id, reference)
        except UserError as exc:
            raise UserError(f"adapter {reference!r} not found: {exc}") from None
        found = self._rows.find(source, name)
        if found is None or not found.has_file:
            raise UserError(f"adapter {reference!r} not found in trainer job {source!r}")
        return self._store.checkpoint_path(source, name)

    def _load_adapter(self, job_id: str, live: LiveModel, body: dict[str, Any]) -> dict[str, Any]:
        reference = body.get("adapter_path")
        if not isinstance(reference, str) or not reference.strip():
            raise UserError("load_adapter needs an adapter_path")
        if live.model.lora_rank == 0:
            raise UserError("load_adapter needs a LoRA model; this model is full-parameter")
        blobs.restore_adapter(self._adapter_file(job_id, reference.strip()), live.model)
        return {"type": "load_adapter", "model_id": live.model_id, "adapter_path": reference}
