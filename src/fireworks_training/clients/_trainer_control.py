"""Where a trainer's control plane is, told by its URL (no I/O here).

A dedicated trainer's URL is ``{gateway}/training/v1/rlorTrainerJobs/{account}/{job}``: the
gateway is the control plane's URL unless the caller says otherwise, and the path names
the account and the job. The service client uses this to list and promote the job's
checkpoints and to read the job's base model, with the same API key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import httpx

from .._constants import BASE_URL_ENV, DEFAULT_BASE_URL

__all__ = ["TrainerLocation", "is_serverless", "job_training_config", "locate"]

_TRAINER_PATH = re.compile(
    r"^(?P<prefix>.*)/training/v1/rlorTrainerJobs/(?P<account>[^/]+)/(?P<job>[^/]+)/?$"
)
_SERVERLESS_PATH = re.compile(r"/training/v1/serverless/?$")


@dataclass(frozen=True)
class TrainerLocation:
    """The control plane's URL, and the account and job the trainer URL names (if any)."""

    control_url: str
    account_id: str | None = None
    job_id: str | None = None


def is_serverless(trainer_url: str) -> bool:
    """True for a serverless training URL (``.../training/v1/serverless``)."""
    return bool(_SERVERLESS_PATH.search(httpx.URL(trainer_url).path))


def locate(trainer_url: str, control_plane_url: str | None = None) -> TrainerLocation:
    """The control plane of ``trainer_url``: given, else its gateway, else the environment."""
    url = httpx.URL(trainer_url)
    match = _TRAINER_PATH.match(url.path)
    if match is None:
        control = control_plane_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        return TrainerLocation(control.rstrip("/"))
    gateway = str(url.copy_with(path=match["prefix"] or "/", query=None, fragment=None))
    control = control_plane_url or gateway
    return TrainerLocation(control.rstrip("/"), match["account"], match["job"])


def job_training_config(job: dict[str, Any]) -> tuple[str | None, int | None]:
    """``(baseModel, loraRank)`` of a trainer job's ``trainingConfig``, where present."""
    config = job.get("trainingConfig") or job.get("training_config") or {}
    base_model = config.get("baseModel") or config.get("base_model")
    rank = config.get("loraRank", config.get("lora_rank"))
    return (
        base_model if isinstance(base_model, str) and base_model else None,
        rank if isinstance(rank, int) and not isinstance(rank, bool) and rank >= 0 else None,
    )
