"""The emulator's knobs, with their defaults in this one place.

``Emulator(settings=Settings(...))``, the ``Emulator`` keyword arguments, the command line and
the pytest plugin all start from these defaults. The knobs tests switch at runtime are plain
mutable attributes (or setters that check the value).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from .catalog import (
    DEFAULT_BASE_MODELS,
    DEFAULT_TRAINING_SHAPES,
    BaseModelSpec,
    TrainingShapeSpec,
    check_unique,
)

__all__ = ["PROMOTION_MODES", "Settings", "SettingsOverrides"]

PROMOTION_MODES = ("sync", "async")


@dataclass
class Settings:
    """Server-wide settings of one emulator.

    Serving: ``host``, ``port`` (0 picks a free one), ``api_key``, ``account_id``.
    Control plane: ``promotion_mode`` (``sync`` answers the model, ``async`` an operation done
    after ``promotion_seconds``), ``legacy_async_promotion`` (reject the opt-in as an older
    server does), ``job_start_seconds`` (PENDING before RUNNING).
    Trainers: ``long_poll_seconds`` (how long ``retrieve_future`` holds a pending request),
    ``future_ttl_seconds`` (a finished future's lifetime), ``legacy_state_overwrite`` (a
    ``save_weights`` under an existing name replaces it whatever ``overwrite`` says, as this
    emulator did before it honoured the flag).
    Deployments: ``deployment_start_seconds`` (CREATING or UPDATING before READY),
    ``deployment_delete_seconds`` (DELETING before gone), ``hotload_seconds`` (a hot-load's
    download time), ``legacy_reset_prompt_cache`` (refuse that signal field, as an older
    gateway does), ``sync_swap_busy`` (a SYNC deployment answers 425 while every replica
    swaps weights).
    Catalog: ``base_models`` (what ``GET /v1/accounts/{a}/models/{m}`` describes besides
    promoted models) and ``training_shapes`` (one spec per shape version);
    :meth:`add_base_model` and :meth:`add_training_shape` publish more while serving.
    State changes after a duration (a job starting, a promotion finishing, a future expiring)
    follow the emulator's clock, which ``Emulator.advance_time`` moves; ``long_poll_seconds``
    is wall time.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = "emulator-key"
    account_id: str = "emulator"
    promotion_mode: str = "sync"
    promotion_seconds: float = 1.0
    legacy_async_promotion: bool = False
    legacy_state_overwrite: bool = False
    long_poll_seconds: float = 5.0
    job_start_seconds: float = 0.0
    future_ttl_seconds: float = 3600.0
    deployment_start_seconds: float = 0.0
    deployment_delete_seconds: float = 0.0
    hotload_seconds: float = 0.0
    legacy_reset_prompt_cache: bool = False
    sync_swap_busy: bool = True
    base_models: tuple[BaseModelSpec, ...] = DEFAULT_BASE_MODELS
    training_shapes: tuple[TrainingShapeSpec, ...] = DEFAULT_TRAINING_SHAPES

    def __post_init__(self) -> None:
        self.set_promotion_mode(self.promotion_mode, self.promotion_seconds)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_seconds") and value < 0:
                raise ValueError(f"{f.name} must not be negative, got {value}")
        self.base_models = tuple(self.base_models)
        self.training_shapes = tuple(self.training_shapes)
        check_unique(self.base_models, self.training_shapes)

    def add_base_model(self, spec: BaseModelSpec) -> None:
        """Publish one more base model; a name already published is a ``ValueError``."""
        models = (*self.base_models, spec)
        check_unique(models, self.training_shapes)
        self.base_models = models

    def add_training_shape(self, spec: TrainingShapeSpec) -> None:
        """Publish one more shape version, the newest of its shape (a repeat: ``ValueError``)."""
        shapes = (*self.training_shapes, spec)
        check_unique(self.base_models, shapes)
        self.training_shapes = shapes

    def set_promotion_mode(self, mode: str, seconds: float | None = None) -> None:
        """``sync`` answers the model at once; ``async`` answers a long-running operation."""
        if mode not in PROMOTION_MODES:
            raise ValueError(f"promotion mode must be one of {PROMOTION_MODES}, got {mode!r}")
        if seconds is not None and seconds < 0:
            raise ValueError("promotion seconds must not be negative")
        self.promotion_mode = mode
        if seconds is not None:
            self.promotion_seconds = seconds

    def updated(self, **overrides: Any) -> Settings:
        """A copy with ``overrides`` applied (unknown names are a ``TypeError``)."""
        return replace(self, **overrides)


class SettingsOverrides(TypedDict, total=False):
    """The :class:`Settings` fields, as keyword arguments of ``Emulator``."""

    host: str
    port: int
    api_key: str
    account_id: str
    promotion_mode: str
    promotion_seconds: float
    legacy_async_promotion: bool
    legacy_state_overwrite: bool
    long_poll_seconds: float
    job_start_seconds: float
    future_ttl_seconds: float
    deployment_start_seconds: float
    deployment_delete_seconds: float
    hotload_seconds: float
    legacy_reset_prompt_cache: bool
    sync_swap_busy: bool
    base_models: tuple[BaseModelSpec, ...]
    training_shapes: tuple[TrainingShapeSpec, ...]
