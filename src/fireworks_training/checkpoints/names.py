"""Every name grammar of the SDK: resource names, short ids, references, steps.

One grammar per resource: ``parse`` raises :class:`InvalidNameError` quoting the expected
pattern, ``str()`` gives the canonical name, and every function that takes a name accepts
the string or the name object. ``parse_ref`` reads what a caller may pass for a job or a
model: a short id (the account is then the client's) or a full name. Raising checks are
``check_*`` / ``require_*``; ``validate_output_model_id`` returns the list of problems.
The grammars are described in docs/protocol.md §1 and §2.4.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from ..errors import InvalidModelIdError, InvalidNameError, InvalidReferenceError

__all__ = [
    "CHECKPOINT_NAME_RULE",
    "CROSS_JOB_SCHEME",
    "MODEL_ID_RULE",
    "CheckpointName",
    "DeploymentName",
    "InitFromCheckpoint",
    "ModelName",
    "OperationName",
    "TrainerJobName",
    "check_account_id",
    "check_checkpoint_id",
    "check_checkpoint_name",
    "check_load_reference",
    "check_model_id",
    "check_trainer_job_id",
    "cross_job_reference",
    "logical_name",
    "parse_init_from_checkpoint",
    "require_output_model_id",
    "step_of",
    "validate_output_model_id",
]

# Patterns end in \Z, not $: "$" would accept a trailing newline.
# Account and trainer job ids: no slashes, no dots, so a name never splits ambiguously.
_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
_ID_RE = re.compile(rf"^{_ID}\Z")
# Checkpoint names, at save and at load (docs/protocol.md §2.4).
_CHECKPOINT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_CHECKPOINT_RE = re.compile(rf"^{_CHECKPOINT}\Z")
CHECKPOINT_NAME_RULE = (
    "1-128 characters of letters, digits, '-', '_', '.', starting with a letter or digit"
)
# Model ids: the output model id rule (1-63 of a-z, 0-9, '-') is what promotion creates;
# reading is wider by case and '_' so a model named by another tool can still be fetched.
_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")
MODEL_ID_RULE = "1-63 characters of letters, digits, '-' and '_', starting with a letter or digit"
# Operation ids are the server's own: opaque, but one path segment.
_OPERATION_ID_RE = _CHECKPOINT_RE

_SESSION_SUFFIX_RE = re.compile(r"-[0-9a-f]{8}\Z")
# ASCII digits, at most a 128-character name's worth: int() refuses 4300+ digit strings.
_STEP_RE = re.compile(r"^step-([0-9]{1,123})\Z")
_OUTPUT_MODEL_ID_MAX = 63
_OUTPUT_MODEL_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")

CROSS_JOB_SCHEME = "cross_job://"
_SERVERLESS_RE = re.compile(rf"^({_ID})/(run-[0-9a-f]{{32}})/({_CHECKPOINT})\Z")
_URI_SCHEMES = ("cross_job://", "gs://", "tinker://", "s3://", "https://")


@dataclass(frozen=True, slots=True)
class _Segment:
    """The grammar of one id inside a name: what it is called and what it must match."""

    what: str
    pattern: re.Pattern[str]
    rule: str = ""

    def check(self, value: object, template: str) -> str:
        """``value`` when it matches; else :class:`InvalidNameError` naming ``template``."""
        if isinstance(value, str) and self.pattern.match(value):
            return value
        rule = f": expected {self.rule}" if self.rule else ""
        raise InvalidNameError(
            f"invalid {self.what} {value!r} in a name of the form {template!r}{rule}",
            value=value,
            expected=template,
        )


_ACCOUNT = _Segment("account id", _ID_RE)
_JOB = _Segment("trainer job id", _ID_RE)
_CHECKPOINT_ID = _Segment("checkpoint id", _CHECKPOINT_RE, CHECKPOINT_NAME_RULE)
_MODEL = _Segment("model id", _MODEL_ID_RE, MODEL_ID_RULE)
_OPERATION = _Segment("operation id", _OPERATION_ID_RE)
_DEPLOYMENT = _Segment("deployment id", _MODEL_ID_RE, MODEL_ID_RULE)


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


class _AccountName:
    """``accounts/{account}/<collection>/{id}``: parse, format, and short-id references."""

    TEMPLATE: ClassVar[str]
    _SEGMENT: ClassVar[_Segment]  # the grammar of the last id
    _ID_FIELD: ClassVar[str]  # the attribute holding it, also the argument's name

    if TYPE_CHECKING:
        account: str

        def __init__(self, account: str, short_id: str, /) -> None: ...

    def __post_init__(self) -> None:
        _ACCOUNT.check(self.account, self.TEMPLATE)
        self._SEGMENT.check(getattr(self, self._ID_FIELD), self.TEMPLATE)

    @classmethod
    def parse(cls, value: Self | str) -> Self:
        """Parse a full name; raises :class:`InvalidNameError` quoting the expected form."""
        if isinstance(value, cls):
            return value
        account, short_id = _split(value, ("accounts", cls.TEMPLATE.split("/")[2]), cls.TEMPLATE)
        return cls(account, short_id)

    @classmethod
    def parse_ref(cls, value: Self | str) -> tuple[str | None, str]:
        """(account or None, id) from a short id or a full name, validated.

        A short id leaves the account to the caller (a client uses its own account).
        """
        if isinstance(value, str) and "/" in value:
            value = cls.parse(value)
        if isinstance(value, cls):
            return value.account, getattr(value, cls._ID_FIELD)
        if not isinstance(value, str):
            raise InvalidNameError(
                f"{cls._ID_FIELD} must be a string, got {type(value).__name__}",
                value=value,
                expected=cls.TEMPLATE,
            )
        return None, cls._SEGMENT.check(value, cls.TEMPLATE)

    def __str__(self) -> str:
        collection = self.TEMPLATE.split("/")[2]
        return f"accounts/{self.account}/{collection}/{getattr(self, self._ID_FIELD)}"


@dataclass(frozen=True, slots=True)
class TrainerJobName(_AccountName):
    """``accounts/{account}/rlorTrainerJobs/{job}``."""

    account: str
    job_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/rlorTrainerJobs/{job}"
    _SEGMENT: ClassVar[_Segment] = _JOB
    _ID_FIELD: ClassVar[str] = "job_id"


@dataclass(frozen=True, slots=True)
class ModelName(_AccountName):
    """``accounts/{account}/models/{model}``; the model id follows :data:`MODEL_ID_RULE`."""

    account: str
    model_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/models/{model}"
    _SEGMENT: ClassVar[_Segment] = _MODEL
    _ID_FIELD: ClassVar[str] = "model_id"


@dataclass(frozen=True, slots=True)
class OperationName(_AccountName):
    """``accounts/{account}/operations/{operation}``: a long-running operation."""

    account: str
    operation_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/operations/{operation}"
    _SEGMENT: ClassVar[_Segment] = _OPERATION
    _ID_FIELD: ClassVar[str] = "operation_id"


@dataclass(frozen=True, slots=True)
class DeploymentName(_AccountName):
    """``accounts/{account}/deployments/{deployment}``: what completions name as ``model``."""

    account: str
    deployment_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/deployments/{deployment}"
    _SEGMENT: ClassVar[_Segment] = _DEPLOYMENT
    _ID_FIELD: ClassVar[str] = "deployment_id"


@dataclass(frozen=True, slots=True)
class CheckpointName:
    """``accounts/{account}/rlorTrainerJobs/{job}/checkpoints/{checkpoint}``: the 4-segment name."""

    account: str
    job_id: str
    checkpoint_id: str

    TEMPLATE: ClassVar[str] = "accounts/{account}/rlorTrainerJobs/{job}/checkpoints/{checkpoint}"

    def __post_init__(self) -> None:
        _ACCOUNT.check(self.account, self.TEMPLATE)
        _JOB.check(self.job_id, self.TEMPLATE)
        _CHECKPOINT_ID.check(self.checkpoint_id, self.TEMPLATE)

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


def check_account_id(value: object) -> str:
    """An account id, else :class:`InvalidNameError`."""
    return _ACCOUNT.check(value, TrainerJobName.TEMPLATE)


def check_trainer_job_id(value: object) -> str:
    """A short trainer job id, else :class:`InvalidNameError`."""
    return _JOB.check(value, TrainerJobName.TEMPLATE)


def check_model_id(value: object) -> str:
    """A short model id (:data:`MODEL_ID_RULE`), else :class:`InvalidNameError`."""
    return _MODEL.check(value, ModelName.TEMPLATE)


def check_checkpoint_id(value: object) -> str:
    """A short checkpoint id, else :class:`InvalidNameError`."""
    return _CHECKPOINT_ID.check(value, CheckpointName.TEMPLATE)


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


def check_checkpoint_name(name: object) -> str:
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


def check_load_reference(reference: object) -> str:
    """Return a checkpoint reference ``load_state*`` accepts (docs/protocol.md §2.4), stripped.

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
    name = check_checkpoint_name(checkpoint_name)
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
        ref = check_load_reference(text)
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


# Renamed in 0.1.0: a raising check is check_*; validate_* returns the list of problems.
_DEPRECATED = {
    "validate_checkpoint_name": check_checkpoint_name,
    "validate_load_reference": check_load_reference,
}


def __getattr__(name: str) -> Any:
    new = _DEPRECATED.get(name)
    if new is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"{name} is deprecated and will be removed in 1.0; use {new.__name__}",
        DeprecationWarning,
        stacklevel=2,
    )
    return new
