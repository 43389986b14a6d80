"""Deployments without I/O: the config, the resource as read, and the rules of waiting.

docs/protocol.md §4.1. ``DeploymentConfig`` and ``DeploymentInfo`` keep the official field
names, order and defaults; the create body and query, the comparison of an existing
deployment with a config, and which states a wait goes on from live here. The resource
module (``_async/deployments.py``) sends the requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._backoff import Backoff
from ..checkpoints.names import DeploymentName, TrainerJobName
from ..errors import DeploymentError, DeploymentTimeoutError, InvalidArgumentError

__all__ = [
    "DEFAULT_ACCELERATOR_TYPE",
    "DEFAULT_DEPLOYMENT_DESCRIPTION",
    "SERVING_STATES",
    "TERMINAL_STATES",
    "TRANSITION_TYPES",
    "DeploymentConfig",
    "DeploymentInfo",
    "DeploymentWaiter",
    "check_matches",
    "deployment_info",
    "normalize_transition_type",
    "qualify_trainer_job",
    "scale_to_zero_body",
]

DEFAULT_DEPLOYMENT_DESCRIPTION = "Fireworks training deployment"
DEFAULT_ACCELERATOR_TYPE = "NVIDIA_H200_141GB"
TRANSITION_TYPES = ("ASYNC", "SYNC")
_UNSPECIFIED_TRANSITIONS = frozenset({"HOT_LOAD_TRANSITION_TYPE_UNSPECIFIED", "UNSPECIFIED"})
# A deployment in one of these will not serve again: create_or_get replaces it.
TERMINAL_STATES = frozenset({"FAILED", "DELETED", "DELETING"})
SERVING_STATES = frozenset({"READY", "UPDATING"})


def normalize_transition_type(value: str | None) -> str | None:
    """``ASYNC`` or ``SYNC`` (any case), or None when unset; anything else is an error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"hot_load_transition_type must be a string, got {value!r}")
    text = value.strip().upper()
    if not text:
        return None
    if text not in TRANSITION_TYPES:
        raise InvalidArgumentError(
            f"hot_load_transition_type must be one of {list(TRANSITION_TYPES)}, got {value!r}"
        )
    return text


def _read_transition_type(value: Any) -> str | None:
    """The transition type as a deployment reports it; unspecified is None."""
    if not isinstance(value, str) or value.strip().upper() in _UNSPECIFIED_TRANSITIONS:
        return None
    text = value.strip().upper()
    return text or None


def qualify_trainer_job(job: str, account: str) -> str:
    """``accounts/{a}/rlorTrainerJobs/{job}`` for a job given by full name or short id."""
    job_account, job_id = TrainerJobName.parse_ref(job)
    return str(TrainerJobName(job_account or account, job_id))


@dataclass
class DeploymentConfig:
    """What a deployment to create serves and how (official fields, order and defaults).

    Give ``deployment_shape`` (the hardware comes from the shape) or ``accelerator_type``.
    ``hot_load_trainer_job`` (a job's full name or short id) attaches the deployment to a
    trainer job, whose sampler snapshots it can then hot-load. :meth:`validate` checks
    everything before a request is sent (``create_or_get`` calls it).
    """

    deployment_id: str
    base_model: str
    description: str | None = None
    deployment_shape: str | None = None
    expected_deployment_shape: str | None = None
    region: str | None = None
    min_replica_count: int = 0
    max_replica_count: int = 1
    accelerator_type: str | None = DEFAULT_ACCELERATOR_TYPE
    hot_load_bucket_type: str | None = "FW_HOSTED"
    hot_load_trainer_job: str | None = None
    enable_hot_load: bool = True
    hot_load_transition_type: str | None = None
    skip_shape_validation: bool = False
    accept_shapeless_risk: bool = False
    disable_speculative_decoding: bool = False
    extra_args: list[str] | None = None
    extra_values: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    for_training: bool = False
    preemptible: bool = False

    def __post_init__(self) -> None:
        self.hot_load_transition_type = normalize_transition_type(self.hot_load_transition_type)

    @classmethod
    def from_training_profile(
        cls, *, deployment_id: str, base_model: str, profile: Any, **kwargs: Any
    ) -> DeploymentConfig:
        """A config pinned to a training profile's deployment shape (both shape fields set)."""
        shape = getattr(profile, "deployment_shape", None) or getattr(
            profile, "deployment_shape_version", None
        )
        if not shape:
            raise InvalidArgumentError("the training profile has no deployment shape")
        return cls(
            deployment_id=deployment_id,
            base_model=base_model,
            deployment_shape=shape,
            expected_deployment_shape=shape,
            **kwargs,
        )

    def validate(self) -> None:
        """Every problem of the config, raised as one :class:`InvalidArgumentError`."""
        problems = list(self._problems())
        if problems:
            raise InvalidArgumentError("invalid DeploymentConfig: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        try:
            DeploymentName.parse_ref(self.deployment_id)
        except InvalidArgumentError as exc:
            yield f"deployment_id: {exc}"
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            yield f"base_model must be a non-empty string, got {self.base_model!r}"
        for label in ("min_replica_count", "max_replica_count"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                yield f"{label} must be an int >= 0, got {value!r}"
        low, high = self.min_replica_count, self.max_replica_count
        if isinstance(low, int) and isinstance(high, int) and low > high:
            yield f"min_replica_count {low} exceeds max_replica_count {high}"
        shape = (self.deployment_shape or "").strip()
        if shape and self.accept_shapeless_risk:
            yield "accept_shapeless_risk cannot be combined with a deployment_shape"
        if not shape and not (self.accelerator_type or "").strip():
            yield "give a deployment_shape or an accelerator_type"
        expected = (self.expected_deployment_shape or "").strip()
        if expected and shape != expected:
            yield f"deployment_shape {shape!r} is not the expected shape {expected!r}"
        if self.hot_load_trainer_job is not None:
            try:
                TrainerJobName.parse_ref(self.hot_load_trainer_job)
            except InvalidArgumentError as exc:
                yield f"hot_load_trainer_job: {exc}"
        try:
            normalize_transition_type(self.hot_load_transition_type)
        except InvalidArgumentError as exc:
            yield str(exc)

    def create_params(self) -> dict[str, str]:
        """The query of ``POST …/deployments``: the id and the flags that are on."""
        params = {"deploymentId": self.deployment_id}
        flags = {
            "skipShapeValidation": self.skip_shape_validation,
            "acceptShapelessRisk": self.accept_shapeless_risk,
            "disableSpeculativeDecoding": self.disable_speculative_decoding,
        }
        params.update({name: "true" for name, on in flags.items() if on})
        return params

    def create_body(self, account: str) -> dict[str, Any]:
        """The camelCase create body; the trainer job is qualified with ``account``."""
        body: dict[str, Any] = {
            "baseModel": self.base_model,
            "description": self.description or DEFAULT_DEPLOYMENT_DESCRIPTION,
            "minReplicaCount": self.min_replica_count,
            "maxReplicaCount": self.max_replica_count,
            "enableHotLoad": self.enable_hot_load,
            "forTraining": self.for_training,
        }
        if self.region:
            body["placement"] = {"region": self.region}
        if self.hot_load_bucket_type:
            body["hotLoadBucketType"] = self.hot_load_bucket_type
        if self.hot_load_trainer_job:
            body["hotLoadTrainerJob"] = qualify_trainer_job(self.hot_load_trainer_job, account)
        if self.hot_load_transition_type:
            body["hotLoadTransitionType"] = self.hot_load_transition_type
        if self.deployment_shape:
            body["deploymentShape"] = self.deployment_shape
        else:
            body["acceleratorType"] = self.accelerator_type
        if self.extra_args:
            body["extraArgs"] = [part for arg in self.extra_args for part in arg.split()]
        if self.extra_values:
            body["extraValues"] = dict(self.extra_values)
        if self.annotations:
            body["annotations"] = dict(self.annotations)
        if self.preemptible:
            body["preemptible"] = True
        return body


@dataclass
class DeploymentInfo:
    """A deployment as read from the control plane (official fields first, then ours).

    ``inference_model`` is the ``model`` completions take, ``accounts/{a}/deployments/{d}``.
    ``replica_count`` and ``ready_replica_count`` are None when the server does not say.
    """

    deployment_id: str
    name: str
    state: str
    hot_load_bucket_url: str | None = None
    hot_load_trainer_job: str | None = None
    hot_load_transition_type: str | None = None
    deployment_shape_version: str | None = None
    inference_model: str | None = None
    base_model: str | None = None
    enable_hot_load: bool | None = None
    replica_count: int | None = None
    ready_replica_count: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _text(body: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def deployment_info(deployment_id: str, account: str, body: Mapping[str, Any]) -> DeploymentInfo:
    """The typed view of a deployment resource (camelCase or snake_case keys)."""
    stats = body.get("replicaStats")
    ready = _count(stats.get("readyReplicaCount")) if isinstance(stats, Mapping) else None
    enabled = body.get("enableHotLoad", body.get("enable_hot_load"))
    return DeploymentInfo(
        deployment_id=deployment_id,
        name=_text(body, "name") or "",
        state=_text(body, "state") or "UNKNOWN",
        hot_load_bucket_url=_text(body, "hotLoadBucketUrl", "hot_load_bucket_url"),
        hot_load_trainer_job=_text(body, "hotLoadTrainerJob", "hot_load_trainer_job"),
        hot_load_transition_type=_read_transition_type(
            _text(body, "hotLoadTransitionType", "hot_load_transition_type")
        ),
        deployment_shape_version=_text(body, "deploymentShape", "deployment_shape"),
        inference_model=str(DeploymentName(account, deployment_id)),
        base_model=_text(body, "baseModel", "base_model"),
        enable_hot_load=enabled if isinstance(enabled, bool) else None,
        replica_count=_count(body.get("replicaCount")),
        ready_replica_count=ready,
        raw=dict(body),
    )


def check_matches(info: DeploymentInfo, config: DeploymentConfig, account: str) -> None:
    """An existing deployment must serve what ``config`` asks for; else a one-line error.

    Compared: the base model, hot load on or off, and (when the config names one) the
    trainer job it is attached to.
    """
    problems = []
    if info.base_model is not None and info.base_model != config.base_model:
        problems.append(f"serves base model {info.base_model!r}, not {config.base_model!r}")
    if config.enable_hot_load and info.enable_hot_load is False:
        problems.append("has hot load turned off")
    if config.hot_load_trainer_job:
        wanted = qualify_trainer_job(config.hot_load_trainer_job, account)
        if info.hot_load_trainer_job != wanted:
            attached = info.hot_load_trainer_job or "no trainer job"
            problems.append(f"is attached to {attached}, not {wanted}")
    if problems:
        raise DeploymentError(
            f"deployment {info.deployment_id!r} already exists and "
            + "; ".join(problems)
            + ": reattach it (reattach_trainer), use another deployment_id, "
            "or pass force_recreate=True",
            deployment_id=info.deployment_id,
            state=info.state,
        )


def scale_to_zero_body() -> tuple[dict[str, int], str]:
    """The PATCH body and update mask that set both replica bounds to zero, nothing else."""
    return {"minReplicaCount": 0, "maxReplicaCount": 0}, "min_replica_count,max_replica_count"


class DeploymentWaiter:
    """The deadline and polling cadence of one deployment wait.

    The first poll comes at once, later ones back off from 0.5 s by x1.5 up to
    ``poll_interval_s``; a wait never sleeps past its deadline.
    """

    def __init__(
        self,
        deployment_id: str,
        what: str,
        timeout_s: float | None,
        poll_interval_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._deployment_id = deployment_id
        self._what = what
        self._timeout_s = timeout_s
        self._clock = clock
        self._deadline = math.inf if timeout_s is None else clock() + timeout_s
        first = min(0.5, poll_interval_s)
        self._delays = Backoff(first, 1.5, max(poll_interval_s, first)).delays()

    def remaining(self) -> float:
        """Seconds left before the deadline (``inf`` without one)."""
        return self._deadline - self._clock()

    def delay(self, state: str | None) -> float:
        """Seconds to sleep before the next poll; raises once the deadline has passed."""
        remaining = self.remaining()
        if remaining <= 0:
            raise DeploymentTimeoutError(
                f"deployment {self._deployment_id!r} not {self._what} after "
                f"{self._timeout_s:g} s (state {state or 'unknown'})",
                deployment_id=self._deployment_id,
                state=state,
            )
        return min(next(self._delays), remaining)
