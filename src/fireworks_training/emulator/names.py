"""Resource names as the server checks them: its own grammar, written from the wire protocol.

The emulator shares no code with the SDK, so a client-against-server test compares two
readings of the protocol. Checks return a problem (a short text) or None; the caller decides
whether that is a 400 or a failed future.
"""

from __future__ import annotations

import re

__all__ = [
    "CROSS_JOB",
    "checkpoint_id_problem",
    "checkpoint_name",
    "deployment_name",
    "job_name",
    "model_id_problems",
    "model_name",
    "parse_name",
    "resource_id_problem",
]

CROSS_JOB = "cross_job://"
# Account, job and deployment ids hold no dots or slashes, so a name splits one way only.
_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
RESOURCE_ID_RULE = "1-128 letters, digits, '-' or '_', starting with a letter or digit"
# Checkpoint names, the same at save and at load: dots allowed, never first.
_CHECKPOINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
CHECKPOINT_ID_RULE = "1-128 letters, digits, '-', '_' or '.', starting with a letter or digit"
_MODEL_ID_MAX = 63
_MODEL_ID_CHARS = re.compile(r"[a-z0-9-]*\Z")


def resource_id_problem(value: object, what: str) -> str | None:
    """Why ``value`` is not a valid account, job or deployment id, or None."""
    if isinstance(value, str) and _RESOURCE_ID.match(value):
        return None
    return f"invalid {what} {value!r}: expected {RESOURCE_ID_RULE}"


def checkpoint_id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid checkpoint name, or None."""
    if isinstance(value, str) and _CHECKPOINT_ID.match(value):
        return None
    return f"invalid checkpoint name {value!r}: expected {CHECKPOINT_ID_RULE}"


def model_id_problems(value: str) -> list[str]:
    """Every reason ``value`` is not a valid output model id (1-63 of ``[a-z0-9-]``)."""
    problems: list[str] = []
    if not value:
        problems.append("it is empty")
    if len(value) > _MODEL_ID_MAX:
        problems.append(f"it has {len(value)} characters, at most {_MODEL_ID_MAX} are allowed")
    if not _MODEL_ID_CHARS.match(value):
        bad = sorted({c for c in value if not re.match(r"[a-z0-9-]", c)})
        problems.append(f"only a-z, 0-9 and '-' are allowed, found {''.join(bad)!r}")
    return problems


def parse_name(value: object, *collections: str) -> list[str] | None:
    """The ids of ``accounts/{a}/<collection>/{id}/...``, or None when it is not that shape.

    ``parse_name("accounts/a/models/m", "models")`` is ``["a", "m"]``; the caller checks
    each id with the rule for its kind.
    """
    if not isinstance(value, str):
        return None
    parts = value.split("/")
    keys = ("accounts", *collections)
    if len(parts) != 2 * len(keys) or any(parts[2 * i] != k for i, k in enumerate(keys)):
        return None
    ids = parts[1::2]
    return ids if all(ids) else None


def job_name(account: str, job_id: str) -> str:
    """``accounts/{a}/rlorTrainerJobs/{job}``."""
    return f"accounts/{account}/rlorTrainerJobs/{job_id}"


def checkpoint_name(account: str, job_id: str, checkpoint_id: str) -> str:
    """The 4-segment name of a checkpoint row."""
    return f"{job_name(account, job_id)}/checkpoints/{checkpoint_id}"


def model_name(account: str, model_id: str) -> str:
    """``accounts/{a}/models/{id}``."""
    return f"accounts/{account}/models/{model_id}"


def deployment_name(account: str, deployment_id: str) -> str:
    """``accounts/{a}/deployments/{id}``."""
    return f"accounts/{account}/deployments/{deployment_id}"
