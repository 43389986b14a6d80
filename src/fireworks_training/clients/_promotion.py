"""Promotion without I/O: arguments, the request, its reply, retry and recovery decisions.

docs/protocol.md §1.3 and docs/migration.md. The preferred call passes the 4-segment ``name`` from
``list_checkpoints``; the legacy ``(job_id, checkpoint_id, ...)`` form still works with a
``DeprecationWarning``. ``:promote`` is retried when the server surely did not act, and
after ambiguous failures too (within the retry budget): a later 409 may be our own model.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .._retry import is_retryable, surely_not_acted
from ..checkpoints.names import (
    CheckpointName,
    DeploymentName,
    ModelName,
    TrainerJobName,
    check_checkpoint_id,
    require_output_model_id,
)
from ..checkpoints.types import Model, OperationStatus, TrainerJob
from ..errors import APIStatusError, InvalidArgumentError, ProtocolError
from ._base_client import Request

__all__ = [
    "LEGACY_FORM_MESSAGE",
    "HOT_LOAD_MESSAGE",
    "PromoteAttempts",
    "Promotion",
    "PromotionPlan",
    "model_from_response",
    "model_status",
    "parse_base_model",
    "parse_promote_reply",
    "plan_promotion",
    "same_checkpoint",
    "still_uploading",
]

LEGACY_FORM_MESSAGE = (
    "{method}(job_id, checkpoint_id, ...) is deprecated and will be removed in 1.0; pass the "
    "4-segment name from list_checkpoints: "
    "{method}(name=row['name'], output_model_id=..., base_model=...)"
)
HOT_LOAD_MESSAGE = (
    "{method}(hot_load_deployment_id=...) is deprecated and will be removed in 1.0; omit it "
    "unless the deployment predates stored bucket URLs"
)


@dataclass(frozen=True)
class Promotion:
    """A promotion ready to send: every part known and validated."""

    checkpoint: CheckpointName
    output_model_id: str
    base_model: str
    hot_load_deployment_id: str | None = None

    @property
    def output_model(self) -> ModelName:
        """The model the promotion creates."""
        return ModelName(self.checkpoint.account, self.output_model_id)

    def request(self, *, async_promotion: bool) -> Request:
        """``POST /v1/accounts/{a}/checkpoints/{id}:promote`` with its snake_case body."""
        account = self.checkpoint.account
        body: dict[str, Any] = {
            "output_model": str(self.output_model),
            "trainer_job_id": str(self.checkpoint.parent),
            "base_model": self.base_model,
        }
        if self.hot_load_deployment_id is not None:
            body["hot_load_deployment_id"] = _deployment_name(account, self.hot_load_deployment_id)
        if async_promotion:
            body["async_promotion"] = True
        path = f"/v1/accounts/{account}/checkpoints/{self.checkpoint.checkpoint_id}:promote"
        return Request("POST", path, json=body)


def _deployment_name(account: str, deployment: str) -> str:
    if deployment.startswith("accounts/"):
        return deployment
    return f"accounts/{account}/deployments/{deployment}"


@dataclass(frozen=True)
class PromotionPlan:
    """Validated arguments; the account (legacy form) and base model may still be unknown."""

    account: str | None
    job_id: str
    checkpoint_id: str
    output_model_id: str
    base_model: str | None
    hot_load_deployment_id: str | None

    def resolve(self, account: str, base_model: str) -> Promotion:
        """The promotion once the account and base model are known."""
        checkpoint = CheckpointName(self.account or account, self.job_id, self.checkpoint_id)
        return Promotion(checkpoint, self.output_model_id, base_model, self.hot_load_deployment_id)


def plan_promotion(
    method: str,
    job_id: object,
    checkpoint_id: object,
    output_model_id: object,
    base_model: object,
    name: object,
    hot_load_deployment_id: object,
) -> PromotionPlan:
    """Validate a promotion call; warn (at the public method's caller) about legacy usage.

    Called directly from the public method, so ``stacklevel=3`` names the caller's line.
    """
    model_id = _require_model_id(output_model_id)
    base = _optional_text(base_model, "base_model")
    hot_load = _optional_text(hot_load_deployment_id, "hot_load_deployment_id")
    if hot_load is not None:
        DeploymentName.parse_ref(hot_load)  # a deployment id or full name, checked
    account: str | None
    if name is not None:
        account, job, checkpoint = _from_name(name, job_id, checkpoint_id)
    else:
        account, job, checkpoint = _from_ids(job_id, checkpoint_id)
        warnings.warn(LEGACY_FORM_MESSAGE.format(method=method), DeprecationWarning, stacklevel=3)
    if hot_load is not None:
        warnings.warn(HOT_LOAD_MESSAGE.format(method=method), DeprecationWarning, stacklevel=3)
    return PromotionPlan(account, job, checkpoint, model_id, base, hot_load)


def _require_model_id(output_model_id: object) -> str:
    if output_model_id is None:
        raise InvalidArgumentError("output_model_id is required")
    return require_output_model_id(output_model_id)


def _optional_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def _from_name(name: object, job_id: object, checkpoint_id: object) -> tuple[str, str, str]:
    if not isinstance(name, CheckpointName | str):
        raise InvalidArgumentError(
            f"name must be a checkpoint name string or CheckpointName, got {type(name).__name__}"
        )
    parsed = CheckpointName.parse(name)
    if checkpoint_id is not None:
        raise InvalidArgumentError(
            "pass either name= or checkpoint_id=, not both (name already names the checkpoint)"
        )
    if job_id is not None:
        if not isinstance(job_id, str | TrainerJobName):
            raise InvalidArgumentError(f"job_id must be a string, got {type(job_id).__name__}")
        account, job = TrainerJobName.parse_ref(job_id)
        if job != parsed.job_id or account not in (None, parsed.account):
            raise InvalidArgumentError(
                f"job_id {str(job_id)!r} does not match name {str(parsed)!r}"
            )
    return parsed.account, parsed.job_id, parsed.checkpoint_id


def _from_ids(job_id: object, checkpoint_id: object) -> tuple[str | None, str, str]:
    if job_id is None or checkpoint_id is None:
        raise InvalidArgumentError(
            "pass name= (the 4-segment name from list_checkpoints), "
            "or job_id and checkpoint_id (deprecated)"
        )
    if not isinstance(checkpoint_id, str):
        raise InvalidArgumentError(
            f"checkpoint_id must be a string, got {type(checkpoint_id).__name__}"
        )
    if not isinstance(job_id, str | TrainerJobName):
        raise InvalidArgumentError(f"job_id must be a string, got {type(job_id).__name__}")
    account, job = TrainerJobName.parse_ref(job_id)
    return account, job, check_checkpoint_id(checkpoint_id)


@dataclass
class PromoteAttempts:
    """What one ``promote_checkpoint`` call has seen so far; decides each retry."""

    async_promotion: bool = True
    ambiguous_seen: bool = False

    def should_retry(self, exc: BaseException) -> bool:
        """Retry when the server surely did not act, or after an ambiguous failure.

        Resending after any number of ambiguous failures is safe: the output model id makes
        ``:promote`` idempotent, and a 409 is then checked against the checkpoint.
        """
        if surely_not_acted(exc):
            return True
        if is_retryable(exc):
            self.ambiguous_seen = True
            return True
        return False

    def drop_async_promotion(self, exc: APIStatusError) -> bool:
        """True (once) when an older server rejected the ``async_promotion`` opt-in."""
        # The server's own message only: the request path may hold a checkpoint id such as
        # "async_promotion-1", and a body echoing our request always mentions the field.
        text = exc.server_message.lower()
        mentioned = "async_promotion" in text or "asyncpromotion" in text
        if exc.status_code == 400 and self.async_promotion and mentioned:
            self.async_promotion = False
            return True
        return False


def same_checkpoint(model: Model, promotion: Promotion) -> bool:
    """Whether ``model`` came from ``promotion``'s checkpoint (recovering an ambiguous retry).

    Only positive evidence counts: ``sourceCheckpoint``, or another field naming the
    checkpoint. A model that merely appeared at the right time may be someone else's, and
    claiming it would report a promotion that never happened.
    """
    wanted = str(promotion.checkpoint)
    source = model.get("sourceCheckpoint")
    if isinstance(source, str):
        return source == wanted
    return _mentions(dict(model), wanted)


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    if isinstance(value, dict):
        return any(_mentions(v, text) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, text) for v in value)
    return False


def parse_promote_reply(body: Mapping[str, Any]) -> Model | OperationStatus:
    """A ``:promote`` reply: ``{"model": ...}`` (synchronous) or ``{"operation": ...}``."""
    operation = body.get("operation")
    if isinstance(operation, Mapping):
        return _named(OperationStatus(operation))
    model = body.get("model")
    if isinstance(model, Mapping):
        return _named(Model(model))
    raise ProtocolError(f"unexpected :promote reply with keys {sorted(body)}")


N = TypeVar("N", Model, OperationStatus)


def _named(obj: N) -> N:
    """``obj`` once its ``name`` is read: a reply without one is a :class:`ProtocolError`."""
    _ = obj.name
    return obj


def model_from_response(response: dict[str, Any]) -> Model:
    """The model in a finished promotion's ``response`` (``@type`` already dropped)."""
    inner = response.get("model")
    if "name" not in response and isinstance(inner, Mapping):
        response = {k: v for k, v in inner.items() if k != "@type"}
    return _named(Model(response))


def still_uploading(model: Model) -> bool:
    """A promotion answered with its model before the weights are copied: wait for READY.

    Only ``UPLOADING`` says so; a model in another (or no) state is taken as the answer.
    """
    return model.state == "UPLOADING"


def model_status(model: Model) -> OperationStatus:
    """A model seen as an operation: done once READY (a recovered promotion may still copy)."""
    return OperationStatus(name=model.name, done=model.state == "READY", response=dict(model))


def parse_base_model(body: Mapping[str, Any]) -> str:
    """The trainer job's ``trainingConfig.baseModel``; a clear error when it has none."""
    job = TrainerJob(body)
    base = job.training_config.base_model if job.training_config else None
    if not base:
        raise InvalidArgumentError(
            f"trainer job {job.name} has no trainingConfig.baseModel; pass base_model="
        )
    return base
