"""Resource names, output model ids, logical names, steps and checkpoint references.

One grammar per resource: ``parse`` raises :class:`InvalidNameError` quoting the expected
pattern, ``str()`` gives the canonical name, and every function that takes a name accepts
the string or the name object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ..errors import InvalidModelIdError, InvalidNameError, InvalidReferenceError

__all__ = [
    "CROSS_JOB_SCHEME",
    "CheckpointName",
    "InitFromCheckpoint",
    "ModelName",
    "TrainerJobName",
    "cross_job_reference",
    "logical_name",
    "parse_init_from_checkpoint",
    "step_of",
    "validate_checkpoint_name",
    "validate_load_reference",
    "validate_output_model_id",
    "require_output_model_id",
]

# Account, job and model ids: no slashes, no dots, so a name never splits ambiguously.
# Patterns end in \Z, not $: "$" would accept a trailing newline.
_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_ID_RE = re.compile(rf"^{_ID}\Z")
# Checkpoint names, at save and at load (PROTOCOL.md §2.4, "Ours").
_CHECKPOINT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_CHECKPOINT_RE = re.compile(rf"^{_CHECKPOINT}\Z")
CHECKPOINT_NAME_RULE = (
    "1-128 characters of letters, digits, '-', '_', '.', starting with a letter or digit"
)

_SESSION_SUFFIX_RE = re.compile(r"-[0-9a-f]{8}\Z")
# ASCII digits, at most a 128-character name's worth: int() refuses 4300+ digit strings.
_STEP_RE = re.compile(r"^step-([0-9]{1,123})\Z")
_OUTPUT_MODEL_ID_MAX = 63
_OUTPUT_MODEL_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")

CROSS_JOB_SCHEME = "cross_job://"
_SERVERLESS_RE = re.compile(rf"^({_ID})/(run-[0-9a-f]{{32}})/({_CHECKPOINT})\Z")
_URI_SCHEMES = ("cross_job://", "gs://", "tinker://", "s3://", "https://")


def _check_id(value: str, what: str, template: str) -> None:
    if not _ID_RE.match(value):
        raise InvalidNameError(
            f"invalid {what} {value!r} in a name of the form {template!r}",
            value=value,
            expected=template,
        )


def _check_checkpoint_id(value: str, template: str) -> None:
    if not _CHECKPOINT_RE.match(value):
        raise InvalidNameError(
            f"invalid checkpoint id {value!r} in a name of the form {template!r}: "
            f"expected {CHECKPOINT_NAME_RULE}",
            value=value,
            expected=template,
        )


def _split(value: object, keys: tuple[str, ...], template: str) -> list[str]:
    if not isinstance(value, str):
        raise InvalidNameError(
            f"expected a name of the form {template!r}, got {type(value).__name__}",
            value=value,
            expected=template,
        )
    parts = value.split("/")
    if len(parts) != 2 * len(keys) or any(parts[2 * i] != k for i, k in enumerate(keys)):
        raise InvalidNameError(
            f"expected a name of the form {template!r}, got {value!r}",
            value=value,
            expected=template,
        )
    return parts[1::2]


@dataclass(frozen=True, slots=True)
class TrainerJobName:
    """``accounts/{account}/rlorTrainerJobs/{job}``."""

    account: str
    job_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/rlorTrainerJobs/{job}"

    def __post_init__(self) -> None:
        _check_id(self.account, "account id", self.TEMPLATE)
        _check_id(self.job_id, "trainer job id", self.TEMPLATE)

    @classmethod
    def parse(cls, value: TrainerJobName | str) -> TrainerJobName:
        """Parse a trainer job name; raises :class:`InvalidNameError`."""
        if isinstance(value, cls):
            return value
        account, job_id = _split(value, ("accounts", "rlorTrainerJobs"), cls.TEMPLATE)
        return cls(account, job_id)

    def __str__(self) -> str:
        return f"accounts/{self.account}/rlorTrainerJobs/{self.job_id}"


@dataclass(frozen=True, slots=True)
class CheckpointName:
    """``accounts/{account}/rlorTrainerJobs/{job}/checkpoints/{checkpoint}``: the 4-segment name."""

    account: str
    job_id: str
    checkpoint_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/rlorTrainerJobs/{job}/checkpoints/{checkpoint}"

    def __post_init__(self) -> None:
        _check_id(self.account, "account id", self.TEMPLATE)
        _check_id(self.job_id, "trainer job id", self.TEMPLATE)
        _check_checkpoint_id(self.checkpoint_id, self.TEMPLATE)

    @classmethod
    def parse(cls, value: CheckpointName | str) -> CheckpointName:
        """Parse a 4-segment checkpoint name; raises :class:`InvalidNameError`."""
        if isinstance(value, cls):
            return value
        keys = ("accounts", "rlorTrainerJobs", "checkpoints")
        account, job_id, checkpoint_id = _split(value, keys, cls.TEMPLATE)
        return cls(account, job_id, checkpoint_id)

    @property
    def parent(self) -> TrainerJobName:
        """The trainer job this checkpoint belongs to."""
        return TrainerJobName(self.account, self.job_id)

    def __str__(self) -> str:
        return f"{self.parent}/checkpoints/{self.checkpoint_id}"


@dataclass(frozen=True, slots=True)
class ModelName:
    """``accounts/{account}/models/{model}``."""

    account: str
    model_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/models/{model}"

    def __post_init__(self) -> None:
        _check_id(self.account, "account id", self.TEMPLATE)
        _check_checkpoint_id(self.model_id, self.TEMPLATE)

    @classmethod
    def parse(cls, value: ModelName | str) -> ModelName:
        """Parse a model name; raises :class:`InvalidNameError`."""
        if isinstance(value, cls):
            return value
        account, model_id = _split(value, ("accounts", "models"), cls.TEMPLATE)
        return cls(account, model_id)

    def __str__(self) -> str:
        return f"accounts/{self.account}/models/{self.model_id}"


def validate_output_model_id(model_id: object) -> list[str]:
    """Every problem with an output model id (1-63 of ``[a-z0-9-]``); empty when valid."""
    if not isinstance(model_id, str):
        return [f"must be a string, got {type(model_id).__name__}"]
    problems: list[str] = []
    if not model_id:
        problems.append("must not be empty")
    if len(model_id) > _OUTPUT_MODEL_ID_MAX:
        problems.append(f"must be at most {_OUTPUT_MODEL_ID_MAX} characters, got {len(model_id)}")
    bad = sorted({c for c in model_id if c not in _OUTPUT_MODEL_ID_CHARS})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        problems.append(f"may only contain lowercase a-z, 0-9 and '-'; found {shown}{more}")
    return problems


def require_output_model_id(model_id: object) -> str:
    """Return a valid output model id or raise :class:`InvalidModelIdError` with every problem."""
    problems = validate_output_model_id(model_id)
    if problems:
        raise InvalidModelIdError(
            f"invalid output_model_id {model_id!r}: " + "; ".join(problems),
            value=model_id,
            problems=problems,
        )
    assert isinstance(model_id, str)
    return model_id


def logical_name(checkpoint_id: str) -> str:
    """Strip a sampler session suffix ``-<8 hex>``: ``step-50-a1b2c3d4`` gives ``step-50``."""
    return _SESSION_SUFFIX_RE.sub("", checkpoint_id)


def step_of(name: str) -> int | None:
    """The step of a ``step-N`` name (a session suffix is ignored); None for other names."""
    match = _STEP_RE.match(name) or _STEP_RE.match(logical_name(name))
    return int(match.group(1)) if match else None


def validate_checkpoint_name(name: object) -> str:
    """Return the name stripped of surrounding whitespace, or raise :class:`InvalidNameError`.

    The same rule holds at save and at load, so whatever saves can be loaded back.
    """
    if not isinstance(name, str):
        raise InvalidNameError(
            f"checkpoint name must be a string, got {type(name).__name__}",
            value=name,
            expected=CHECKPOINT_NAME_RULE,
        )
    stripped = name.strip()
    if not _CHECKPOINT_RE.match(stripped):
        raise InvalidNameError(
            f"invalid checkpoint name {name!r}: expected {CHECKPOINT_NAME_RULE}",
            value=name,
            expected=CHECKPOINT_NAME_RULE,
        )
    return stripped


_REFERENCE_FORMS = (
    "a checkpoint name, 'cross_job://<job-id>/<checkpoint>' or "
    "'<account>/run-<32 hex>/<checkpoint>'"
)


def validate_load_reference(reference: object) -> str:
    """Return a checkpoint reference ``load_state*`` accepts (PROTOCOL.md §2.4), stripped.

    Raises :class:`InvalidReferenceError` for anything else: other schemes, absolute paths,
    ``.``/``..`` segments, backslashes, NUL, empty.
    """
    if not isinstance(reference, str):
        raise InvalidReferenceError(
            f"checkpoint reference must be a string, got {type(reference).__name__}",
            value=reference,
        )
    ref = reference.strip()
    if ref.startswith(CROSS_JOB_SCHEME):
        job_id, sep, name = ref[len(CROSS_JOB_SCHEME) :].partition("/")
        if sep and _ID_RE.match(job_id) and _CHECKPOINT_RE.match(name):
            return ref
    elif _CHECKPOINT_RE.match(ref) or _SERVERLESS_RE.match(ref):
        return ref
    raise InvalidReferenceError(
        f"invalid checkpoint reference {reference!r}: expected {_REFERENCE_FORMS}",
        value=reference,
    )


def cross_job_reference(job_id: str, checkpoint_name: str) -> str:
    """``cross_job://<job_id>/<checkpoint_name>``, both parts validated."""
    if not isinstance(job_id, str) or not _ID_RE.match(job_id):
        raise InvalidReferenceError(f"invalid source job id {job_id!r}", value=job_id)
    name = validate_checkpoint_name(checkpoint_name)
    return f"{CROSS_JOB_SCHEME}{job_id}/{name}"


@dataclass(frozen=True, slots=True)
class InitFromCheckpoint:
    """A parsed ``init_from_checkpoint``: a job and checkpoint, or a storage URI."""

    job_id: str | None
    checkpoint_name: str | None
    uri: str | None = None

    @property
    def load_reference(self) -> str:
        """The reference the trainer loads; storage URIs are not loadable by the trainer."""
        if self.job_id is None or self.checkpoint_name is None:
            raise InvalidReferenceError(
                f"init_from_checkpoint {self.uri!r} is a storage URI; the trainer loads only "
                "'<job-id>:<checkpoint>' or 'cross_job://<job-id>/<checkpoint>'",
                value=self.uri,
            )
        return cross_job_reference(self.job_id, self.checkpoint_name)


def parse_init_from_checkpoint(value: object) -> InitFromCheckpoint:
    """Parse ``"<job-id>:<checkpoint>"``; URI schemes are recognised before the colon split."""
    if not isinstance(value, str):
        raise InvalidReferenceError(
            f"init_from_checkpoint must be a string, got {type(value).__name__}", value=value
        )
    text = value.strip()
    if "\\" in text or "\x00" in text:
        raise InvalidReferenceError(
            f"init_from_checkpoint {value!r} contains a backslash or NUL", value=value
        )
    if text.startswith(CROSS_JOB_SCHEME):
        ref = validate_load_reference(text)
        job_id, _, name = ref[len(CROSS_JOB_SCHEME) :].partition("/")
        return InitFromCheckpoint(job_id, name)
    for scheme in _URI_SCHEMES:
        if text.startswith(scheme):
            rest = text[len(scheme) :]
            if (
                not rest
                or rest.startswith("/")
                or any(p in ("", ".", "..") for p in rest.split("/"))
            ):
                raise InvalidReferenceError(
                    f"init_from_checkpoint {value!r} has an empty or relative path", value=value
                )
            return InitFromCheckpoint(None, None, uri=text)
    if "://" in text:
        raise InvalidReferenceError(
            f"init_from_checkpoint {value!r} uses an unknown scheme; "
            f"known: {', '.join(_URI_SCHEMES)}",
            value=value,
        )
    job_id, sep, name = text.partition(":")
    if not sep or not job_id or not name:
        raise InvalidReferenceError(
            f"init_from_checkpoint must be '<job-id>:<checkpoint>', got {value!r}", value=value
        )
    if not _ID_RE.match(job_id) or not _CHECKPOINT_RE.match(name):
        raise InvalidReferenceError(
            f"invalid init_from_checkpoint {value!r}: job id or checkpoint name off its grammar",
            value=value,
        )
    return InitFromCheckpoint(job_id, name)
