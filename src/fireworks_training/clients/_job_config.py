"""``TrainerJobConfig`` and the create request it makes (docs/protocol.md §1.5), without I/O.

The fields, their order and the request are the official client's: a config built for it
builds here, positionally or by keyword, and sends the same body and query. Three launch
paths: a training shape (``training_shape_ref``: the shape owns accelerators and nodes),
automatic shape selection (``auto_select_training_shape``), or manual (everything as given).

Defaults are the documented ones (``max_context_length=4096``, ``learning_rate=1e-5``,
``gradient_accumulation_steps=1``, ``node_count=1``). A default the server applies itself
is marked :class:`DocumentedDefault` and not sent, so the wire stays the official client's
for the same config; a value you set, even the same number, is sent.

Fields are checked one by one when the config is made, and all together (the launch path
too) by :meth:`TrainerJobConfig.validate` before any create request: attributes may change
in between, as cookbook code changes them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..checkpoints.names import check_trainer_job_id
from ..errors import InvalidArgumentError
from ._base_client import Request
from ._profiles import SHAPE_NAME_FORM, check_training_shape_name

__all__ = [
    "MANAGED_JOB_FIELDS",
    "DocumentedDefault",
    "TrainerJobConfig",
    "check_config",
    "create_job_request",
]

# Fields of managed (SFT/DPO/RFT) jobs that people pass here by mistake; the overview says
# trainer jobs ignore them. Accepted with a warning; any other unknown name is a TypeError.
MANAGED_JOB_FIELDS = frozenset(
    {
        "epochs",
        "batch_size",
        "batch_size_samples",
        "learning_rate_warmup_steps",
        "warmup_steps",
        "dataset",
        "evaluation_dataset",
        "eval_auto_carveout",
        "output_model",
        "warm_start_from",
        "wandb_config",
        "jinja_template",
        "early_stop",
        "temperature",
    }
)
_DISPLAY_NAME_MAX = 63
_TEXT_MAX = 512
_MAX_INACTIVITY_S = 3 * 60 * 60
_DURATION_RE = re.compile(r"^(\d+)(\.\d{1,9})?s\Z")
_SHAPE_OWNED = ("accelerator_type", "accelerator_count", "node_count")


class DocumentedDefault(int):
    """A documented default the server applies by itself: equal to its number, not sent."""

    __slots__ = ()

    def __repr__(self) -> str:
        return int.__repr__(self)


def _user_set(value: object) -> bool:
    return value is not None and not isinstance(value, DocumentedDefault)


@dataclass
class TrainerJobConfig:
    """What a new trainer job trains and where it runs (the official fields, in order).

    Invalid values raise :class:`~fireworks_training.errors.InvalidArgumentError` (a
    ``ValueError``) with every problem on one line.
    """

    base_model: str
    lora_rank: int = 0
    projection_head_dim: int | None = None
    max_context_length: int | None = DocumentedDefault(4096)
    learning_rate: float | None = 1e-5
    gradient_accumulation_steps: int | None = DocumentedDefault(1)
    node_count: int | None = DocumentedDefault(1)
    trainer_replica_count: int | None = None
    display_name: str | None = None
    hot_load_deployment_id: str | None = None
    region: str | None = None
    custom_image_tag: str | None = None
    extra_args: list[str] | None = None
    extra_values: dict[str, str] | None = None
    accelerator_type: str | None = None
    accelerator_count: int | None = None
    training_shape_ref: str | None = None
    forward_only: bool = False
    auto_select_training_shape: bool = False
    inactivity_timeout: timedelta | str | None = None
    disable_inactivity_cleanup: bool = False
    skip_validations: bool = False
    purpose: str | None = None
    preemptible: bool = False
    managed_by: str | None = None
    requested_job_id: str | None = None
    use_reservation: bool = True
    reservation_target: str | None = None

    def __post_init__(self) -> None:
        _raise(_field_problems(self))
        if _user_set(self.gradient_accumulation_steps):
            warnings.warn(
                "TrainerJobConfig(gradient_accumulation_steps=1) is ignored: accumulate by "
                "calling forward_backward several times per optim_step",
                DeprecationWarning,
                stacklevel=4,
            )
        if self.hot_load_deployment_id is not None:
            warnings.warn(
                "TrainerJobConfig(hot_load_deployment_id=...) is deprecated: create the "
                "trainer first, then the deployment with hot_load_trainer_job=<job name>",
                DeprecationWarning,
                stacklevel=4,
            )

    def validate(self) -> None:
        """Check every field and the launch path; one error naming every problem."""
        problems = _field_problems(self)
        shape_path = bool(self.training_shape_ref or self.auto_select_training_shape)
        if self.training_shape_ref and self.auto_select_training_shape:
            problems.append("training_shape_ref and auto_select_training_shape exclude each other")
        if shape_path:
            for name in _SHAPE_OWNED:
                value = getattr(self, name)
                if _user_set(value) and value not in ("", 0):
                    problems.append(f"{name} is the training shape's; leave it unset with a shape")
        _raise(problems)


def _accept_managed_fields(init: Callable[..., None]) -> Callable[..., None]:
    """Let the generated ``__init__`` take managed-job fields, ignored with a warning."""

    @functools.wraps(init)
    def __init__(self: TrainerJobConfig, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        ignored = sorted(name for name in kwargs if name in MANAGED_JOB_FIELDS)
        if ignored:
            warnings.warn(
                f"TrainerJobConfig ignores {', '.join(ignored)}: managed-job settings have no "
                "effect on a trainer job (your loop decides epochs and batches)",
                UserWarning,
                stacklevel=2,
            )
            for name in ignored:
                del kwargs[name]
        init(self, *args, **kwargs)

    return __init__


TrainerJobConfig.__init__ = _accept_managed_fields(TrainerJobConfig.__init__)  # type: ignore[method-assign]


def _raise(problems: list[str]) -> None:
    if problems:
        raise InvalidArgumentError("invalid TrainerJobConfig: " + "; ".join(problems))


# One check per field ---------------------------------------------------------------------


def _field_problems(config: TrainerJobConfig) -> list[str]:
    problems: list[str] = []
    for field in dataclasses.fields(config):
        check = _CHECKS.get(field.name)
        problem = check(getattr(config, field.name)) if check else None
        if problem:
            problems.append(f"{field.name}: {problem}")
    return problems


def _text(*, optional: bool = True, max_len: int = _TEXT_MAX, spaces: bool = True) -> Any:
    def check(value: object) -> str | None:
        if value is None:
            return None if optional else "is required"
        if not isinstance(value, str) or not value:
            return f"must be a non-empty string, got {value!r:.80}"
        if len(value) > max_len:
            return f"must be at most {max_len} characters, got {len(value)}"
        if value != value.strip() or not value.isprintable():
            return "must be printable, without surrounding whitespace"
        if not spaces and any(c.isspace() for c in value):
            return f"must not contain whitespace, got {value!r:.80}"
        return None

    return check


def _integer(minimum: int, *, optional: bool = True) -> Any:
    def check(value: object) -> str | None:
        if value is None:
            return None if optional else "is required"
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            return f"must be an integer >= {minimum}, got {value!r:.80}"
        return None

    return check


def _flag(value: object) -> str | None:
    return None if isinstance(value, bool) else f"must be True or False, got {value!r:.80}"


def _learning_rate(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, got {value!r:.80}"
    if not math.isfinite(value) or value <= 0:
        return f"must be finite and > 0, got {value!r}"
    return None


def _accumulation(value: object) -> str | None:
    if value is None or (value == 1 and not isinstance(value, bool)):
        return None
    return f"only 1 (or None) is accepted: accumulate in your loop instead, got {value!r:.80}"


def _raising(
    check: Callable[[object], object], problem: str | None = None
) -> Callable[[object], str | None]:
    """A field check from a check that raises: None, or ``problem`` (else its error)."""

    def field_check(value: object) -> str | None:
        if value is None:
            return None
        try:
            check(value)
        except InvalidArgumentError as exc:
            return str(exc) if problem is None else f"{problem}, got {value!r:.80}"
        return None

    return field_check


def _string_list(value: object) -> str | None:
    if value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return None
    return f"must be a list of strings, got {value!r:.80}"


def _string_map(value: object) -> str | None:
    if value is None or (
        isinstance(value, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        return None
    return f"must map strings to strings, got {value!r:.80}"


def _duration(value: object) -> str | None:
    if value is None:
        return None
    try:
        seconds = float(format_duration(value)[:-1])
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None if seconds <= _MAX_INACTIVITY_S else "must be at most 3 hours"


def format_duration(value: object) -> str:
    """A duration as protobuf JSON writes it (``"1800s"``): a timedelta or such a string."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds < 0:
            raise ValueError("must not be negative")
        if seconds.is_integer():
            return f"{int(seconds)}s"
        return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
    if isinstance(value, str) and _DURATION_RE.match(value):
        return value
    raise ValueError(f"must be a timedelta or a string like '1800s', got {value!r:.80}")


_CHECKS: dict[str, Callable[[object], str | None]] = {
    "base_model": _text(optional=False, spaces=False),
    "lora_rank": _integer(0, optional=False),
    "projection_head_dim": _integer(0),
    "max_context_length": _integer(1),
    "learning_rate": _learning_rate,
    "gradient_accumulation_steps": _accumulation,
    "node_count": _integer(1),
    "trainer_replica_count": _integer(1),
    "display_name": _text(max_len=_DISPLAY_NAME_MAX),
    "hot_load_deployment_id": _text(spaces=False),
    "region": _text(spaces=False),
    "custom_image_tag": _text(spaces=False),
    "extra_args": _string_list,
    "extra_values": _string_map,
    "accelerator_type": _text(spaces=False),
    "accelerator_count": _integer(0),
    "training_shape_ref": _raising(
        check_training_shape_name, f"must be a full name {SHAPE_NAME_FORM!r}"
    ),
    "forward_only": _flag,
    "auto_select_training_shape": _flag,
    "inactivity_timeout": _duration,
    "disable_inactivity_cleanup": _flag,
    "skip_validations": _flag,
    "purpose": _text(),
    "preemptible": _flag,
    "managed_by": _text(),
    "requested_job_id": _raising(check_trainer_job_id),
    "use_reservation": _flag,
    "reservation_target": _text(spaces=False),
}


def check_config(config: object) -> TrainerJobConfig:
    """``config`` when it is a valid :class:`TrainerJobConfig` (checked as it is now)."""
    if not isinstance(config, TrainerJobConfig):
        raise InvalidArgumentError(
            f"config must be a TrainerJobConfig, got {type(config).__name__}"
        )
    config.validate()
    return config


# The create request -----------------------------------------------------------------------


def create_job_request(account: str, job_id: str, config: TrainerJobConfig) -> Request:
    """``POST /v1/accounts/{a}/rlorTrainerJobs?...&rlorTrainerJobId={id}`` as the official
    client sends it for ``config`` (query in its order, camelCase body)."""
    if config.disable_inactivity_cleanup and account != "fireworks":
        raise InvalidArgumentError(
            "disable_inactivity_cleanup is only for trainers in the fireworks account"
        )
    params: dict[str, str | int] = {}
    if config.hot_load_deployment_id:
        params["deploymentId"] = config.hot_load_deployment_id
    if config.training_shape_ref:
        params["trainingShape"] = config.training_shape_ref
        if config.skip_validations:
            params["skipValidations"] = "true"
    elif not config.auto_select_training_shape:
        params["skipValidations"] = "true"
    params["rlorTrainerJobId"] = job_id
    path = f"/v1/accounts/{account}/rlorTrainerJobs"
    return Request("POST", path, params=params, json=create_job_body(config))


def create_job_body(config: TrainerJobConfig) -> dict[str, Any]:
    """The camelCase create body (docs/protocol.md §1.5)."""
    shape_path = bool(config.training_shape_ref)
    manual = not shape_path and not config.auto_select_training_shape
    training: dict[str, Any] = {"baseModel": config.base_model, "loraRank": config.lora_rank}
    if config.learning_rate is not None:
        training["learningRate"] = config.learning_rate
    if config.projection_head_dim:
        training["projectionHeadDim"] = config.projection_head_dim
    body: dict[str, Any] = {
        "serviceMode": True,
        "keepAlive": False,
        "dataset": "",
        "trainingConfig": training,
    }
    if config.trainer_replica_count is not None:
        body["trainerReplicaCount"] = config.trainer_replica_count
    body["useReservation"] = config.use_reservation and not config.reservation_target
    if config.reservation_target:
        body["reservationTarget"] = config.reservation_target
    if _user_set(config.max_context_length) and not shape_path:
        training["maxContextLength"] = config.max_context_length
    if config.custom_image_tag:
        training["customImageTag"] = config.custom_image_tag
    if manual:
        body["nodeCount"] = int(config.node_count) if config.node_count is not None else 1
        if config.accelerator_type:
            training["acceleratorType"] = config.accelerator_type
        if config.accelerator_count:
            training["acceleratorCount"] = config.accelerator_count
    _optional_fields(config, body, training)
    return body


def _optional_fields(
    config: TrainerJobConfig, body: dict[str, Any], training: dict[str, Any]
) -> None:
    if config.display_name:
        body["displayName"] = config.display_name
    if config.hot_load_deployment_id:
        body["hotLoadDeploymentId"] = config.hot_load_deployment_id
    if config.region:
        training["region"] = config.region
    if config.extra_args:
        # An argument holding a space is split into words, as the official client does.
        words = (arg.split() if " " in arg else [arg] for arg in config.extra_args)
        training["extraArgs"] = [word for group in words for word in group]
    if config.extra_values:
        body["extraValues"] = dict(config.extra_values)
    if config.forward_only:
        body["forwardOnly"] = True
    if config.purpose:
        body["purpose"] = config.purpose
    if config.preemptible:
        body["preemptible"] = True
    if config.managed_by:
        body["managedBy"] = config.managed_by
    if config.inactivity_timeout is not None:
        body["inactivityTimeout"] = format_duration(config.inactivity_timeout)
    if config.disable_inactivity_cleanup:
        body["disableInactivityCleanup"] = True
