"""What the workflow asks of the services, as Protocols, and the optional extras it probes.

The Protocols are minimal so test doubles and other clients fit. Anything more (a client's
base model, ``save_state(overwrite=True)``, a trainer job lookup) is probed with ``getattr``
and used only where present.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .._constants import PROMOTE_DEFAULT_TIMEOUT_S
from ..errors import OperationError
from ..operations import Operation
from .types import Checkpoint, Model, OperationStatus, SaveSamplerResult

__all__ = [
    "ControlPlane",
    "Trainer",
    "accepts_overwrite",
    "base_model_of_job",
    "trainer_base_model",
    "wait_until_ready",
]


class _Future(Protocol):
    def result(self, timeout: float | None = None) -> Any: ...


class Trainer(Protocol):
    """What the workflow needs of a training client."""

    def save_state(self, name: str, ttl_seconds: int | None = None) -> _Future: ...

    def save_weights_for_sampler_ext(
        self, name: str, checkpoint_type: Any = None, ttl_seconds: int | None = None
    ) -> SaveSamplerResult: ...

    def load_state_with_optimizer(self, path: str) -> _Future: ...


class ControlPlane(Protocol):
    """What the workflow needs of the control plane."""

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]: ...

    def get_model(self, model_id: str) -> Model: ...

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: Any = None,
    ) -> Model: ...


def accepts_overwrite(save_state: Callable[..., Any]) -> bool:
    """Whether ``save_state`` takes ``overwrite=`` (True when its signature cannot be read)."""
    try:
        parameters = inspect.signature(save_state).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "overwrite" or p.kind is p.VAR_KEYWORD for p in parameters)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def trainer_base_model(training_client: object) -> str | None:
    """The base model a training client says it trains: a ``base_model`` attribute, else
    tinker's ``get_info().model_data.model_name`` (one request)."""
    found = _text(getattr(training_client, "base_model", None))
    get_info = getattr(training_client, "get_info", None)
    if found is None and callable(get_info):
        found = _text(getattr(getattr(get_info(), "model_data", None), "model_name", None))
    return found


def base_model_of_job(control_client: object, job: str) -> str | None:
    """A trainer job's base model, when the control client can look the job up (one request)."""
    for method in ("get_trainer_job", "get"):
        lookup = getattr(control_client, method, None)
        if callable(lookup):
            return _job_base_model(lookup(job))
    return None


def _job_base_model(job: object) -> str | None:
    config: Any = getattr(job, "training_config", None)
    if config is None and isinstance(job, Mapping):
        config = job.get("trainingConfig") or job.get("training_config")
    if isinstance(config, Mapping):
        return _text(config.get("baseModel") or config.get("base_model"))
    return _text(getattr(config, "base_model", None))


def wait_until_ready(
    control_client: ControlPlane,
    model_id: str,
    model: Model,
    *,
    timeout: float | None = PROMOTE_DEFAULT_TIMEOUT_S,
    sleep: Callable[[float], None] | None = None,
) -> Model:
    """Model ``model_id`` once it is ``READY``, polled with ``get_model`` like an operation."""
    latest = [model]

    def status(current: Model) -> OperationStatus:
        state = str(getattr(current, "state", ""))
        if state not in ("", "READY", "UPLOADING", "STATE_UNSPECIFIED"):
            raise OperationError(
                f"model {current.name} is {state}, not READY", operation=str(current.name)
            )
        return OperationStatus(name=str(current.name), done=state == "READY", response={})

    def refresh(_name: str) -> OperationStatus:
        latest[0] = control_client.get_model(model_id)
        return status(latest[0])

    options: dict[str, Any] = {} if sleep is None else {"sleep": sleep}
    operation = Operation(status(model), refresh=refresh, parse=lambda _: latest[0], **options)
    return operation.result(timeout)
