"""Name grammars, output model ids, logical names, steps and checkpoint references."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fireworks_training import checkpoints as checkpoints_package
from fireworks_training.checkpoints import (
    CheckpointName,
    ModelName,
    OperationName,
    TrainerJobName,
    check_checkpoint_name,
    check_load_reference,
    cross_job_reference,
    logical_name,
    parse_init_from_checkpoint,
    require_output_model_id,
    step_of,
    validate_output_model_id,
)
from fireworks_training.checkpoints import names as names_module
from fireworks_training.checkpoints.names import CHECKPOINT_NAME_RULE, MODEL_ID_RULE
from fireworks_training.errors import (
    InvalidArgumentError,
    InvalidModelIdError,
    InvalidNameError,
    InvalidReferenceError,
)

ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,20}\Z")
checkpoint_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,30}\Z")


def test_checkpoint_name_parse_and_format() -> None:
    text = "accounts/acme/rlorTrainerJobs/job-abc/checkpoints/step-50-a1b2c3d4"
    name = CheckpointName.parse(text)
    assert (name.account, name.job_id, name.checkpoint_id) == (
        "acme",
        "job-abc",
        "step-50-a1b2c3d4",
    )
    assert str(name) == text
    assert name.parent == TrainerJobName("acme", "job-abc")
    assert str(name.parent) == "accounts/acme/rlorTrainerJobs/job-abc"
    assert CheckpointName.parse(name) is name


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "accounts/acme/rlorTrainerJobs/job-abc",
        "accounts/acme/rlorTrainerJobs/job-abc/checkpoints/",
        "accounts//rlorTrainerJobs/j/checkpoints/c",
        "accounts/a/trainerJobs/j/checkpoints/c",
        "/accounts/a/rlorTrainerJobs/j/checkpoints/c",
        "accounts/a/rlorTrainerJobs/j/checkpoints/c/extra",
        "accounts/a/rlorTrainerJobs/j/checkpoints/../c",
        "accounts/a/rlorTrainerJobs/j/checkpoints/c d",
        "accounts/a/rlorTrainerJobs/j/checkpoints/c\n",
        "accounts/a/rlorTrainerJobs/j\n/checkpoints/c",
        "accounts/a.b/rlorTrainerJobs/j/checkpoints/c",
        "step-50-a1b2c3d4",
    ],
)
def test_checkpoint_name_rejects_with_expected_pattern(bad: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        CheckpointName.parse(bad)
    assert CheckpointName.TEMPLATE in str(info.value)
    assert info.value.expected == CheckpointName.TEMPLATE


def test_non_string_names_raise_the_documented_error() -> None:
    with pytest.raises(InvalidNameError):
        CheckpointName.parse(42)  # type: ignore[arg-type]


def test_model_and_job_names() -> None:
    assert str(ModelName.parse("accounts/fireworks/models/qwen3-8b")) == (
        "accounts/fireworks/models/qwen3-8b"
    )
    assert ModelName.parse("accounts/fireworks/models/qwen3-8b").model_id == "qwen3-8b"
    with pytest.raises(InvalidNameError, match=r"accounts/\{account\}/models/\{model\}"):
        ModelName.parse("models/qwen3-8b")
    with pytest.raises(InvalidNameError, match="rlorTrainerJobs"):
        TrainerJobName.parse("accounts/a/jobs/j")


@given(ids, ids, checkpoint_ids)
def test_checkpoint_name_round_trip(account: str, job: str, checkpoint: str) -> None:
    name = CheckpointName(account, job, checkpoint)
    assert CheckpointName.parse(str(name)) == name


@given(ids, ids)
def test_trainer_job_and_model_round_trip(account: str, other: str) -> None:
    assert TrainerJobName.parse(str(TrainerJobName(account, other))) == TrainerJobName(
        account, other
    )
    assert ModelName.parse(str(ModelName(account, other))) == ModelName(account, other)


@given(st.text(max_size=80))
def test_any_string_parses_or_raises_invalid_name(text: str) -> None:
    for cls in (CheckpointName, TrainerJobName, ModelName):
        try:
            parsed = cls.parse(text)  # type: ignore[attr-defined]
        except InvalidNameError:
            continue
        assert str(parsed) == text


@pytest.mark.parametrize("good", ["a", "my-model", "x" * 63, "0-9", "qwen3-8b-ft"])
def test_valid_output_model_ids(good: str) -> None:
    assert validate_output_model_id(good) == []
    assert require_output_model_id(good) == good


def test_output_model_id_reports_every_problem_at_once() -> None:
    problems = validate_output_model_id("My_Model" + "x" * 60)
    assert len(problems) == 2
    assert "at most 63 characters, got 68" in problems[0]
    assert "'M'" in problems[1]
    assert "'_'" in problems[1]
    with pytest.raises(InvalidModelIdError) as info:
        require_output_model_id("My_Model" + "x" * 60)
    assert info.value.problems == problems
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [("", "must not be empty"), (None, "must be a string"), ("a b", "' '"), ("é", "'é'")],
)
def test_invalid_output_model_ids(bad: object, fragment: str) -> None:
    assert any(fragment in p for p in validate_output_model_id(bad))
    with pytest.raises(InvalidModelIdError):
        require_output_model_id(bad)


@given(st.text(max_size=80))
def test_output_model_id_property(text: str) -> None:
    problems = validate_output_model_id(text)
    ok = 1 <= len(text) <= 63 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in text)
    assert (problems == []) is ok


@pytest.mark.parametrize(
    ("name", "logical", "step"),
    [
        ("step-50-a1b2c3d4", "step-50", 50),
        ("step-50", "step-50", 50),
        ("step-0", "step-0", 0),
        ("final-a1b2c3d4", "final", None),
        ("step-50-A1B2C3D4", "step-50-A1B2C3D4", None),
        ("train_state_step_100", "train_state_step_100", None),
        ("step-x", "step-x", None),
        ("step-12345678", "step", 12345678),
    ],
)
def test_logical_name_and_step(name: str, logical: str, step: int | None) -> None:
    assert logical_name(name) == logical
    assert step_of(name) == step


@pytest.mark.parametrize(
    "good", ["step-4", "train_state_step_100", "a", "v1.2", "x" * 128, "  step-4  "]
)
def test_checkpoint_names_for_save(good: str) -> None:
    assert check_checkpoint_name(good) == good.strip()


@pytest.mark.parametrize(
    "bad", ["", " ", "-step", ".hidden", "a/b", "a\\b", "a\x00b", "x" * 129, "é", None]
)
def test_checkpoint_names_rejected(bad: object) -> None:
    with pytest.raises(InvalidNameError):
        check_checkpoint_name(bad)


@pytest.mark.parametrize(
    "good",
    [
        "step-4",
        "train_state_step_100",
        " step-4\n",
        "cross_job://job-abc/step-4",
        "acme/run-0123456789abcdef0123456789abcdef/step-4",
    ],
)
def test_load_references_accepted(good: str) -> None:
    assert check_load_reference(good) == good.strip()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "/abs/path",
        "gs://bucket/x",
        "tinker://run/weights/x",
        "cross_job://job-abc",
        "cross_job:///step-4",
        "cross_job://job-abc/../x",
        "cross_job://job-abc/a/b",
        "cross_job://job\n/step-1",
        "../step-4",
        ".",
        "..",
        "a\\b",
        "a\x00b",
        "acme/run-123/step-4",
        "step-4/../../etc",
        42,
    ],
)
def test_load_references_rejected(bad: object) -> None:
    with pytest.raises(InvalidReferenceError):
        check_load_reference(bad)


@given(st.text(max_size=60))
def test_any_reference_is_accepted_or_rejected_cleanly(text: str) -> None:
    try:
        ref = check_load_reference(text)
    except InvalidReferenceError:
        return
    assert ref == text.strip()
    assert ".." not in ref.split("/")
    assert "\\" not in ref


def test_cross_job_reference() -> None:
    assert cross_job_reference("job-abc", "step-10") == "cross_job://job-abc/step-10"
    assert check_load_reference(cross_job_reference("job-abc", "step-10"))
    with pytest.raises(InvalidArgumentError):
        cross_job_reference("job/abc", "step-10")
    with pytest.raises(InvalidArgumentError):
        cross_job_reference("job-abc", "../x")


@pytest.mark.parametrize(
    ("text", "job", "name", "uri"),
    [
        ("job-abc:step-10", "job-abc", "step-10", None),
        (" job-abc:train_state_step_100 ", "job-abc", "train_state_step_100", None),
        ("cross_job://job-abc/step-10", "job-abc", "step-10", None),
        ("gs://bucket/path/ckpt", None, None, "gs://bucket/path/ckpt"),
        ("s3://bucket/ckpt", None, None, "s3://bucket/ckpt"),
        ("https://host/ckpt", None, None, "https://host/ckpt"),
        ("tinker://run-1/weights/step-4", None, None, "tinker://run-1/weights/step-4"),
    ],
)
def test_init_from_checkpoint(
    text: str, job: str | None, name: str | None, uri: str | None
) -> None:
    parsed = parse_init_from_checkpoint(text)
    assert (parsed.job_id, parsed.checkpoint_name, parsed.uri) == (job, name, uri)
    if job is not None:
        assert parsed.load_reference == f"cross_job://{job}/{name}"
    else:
        with pytest.raises(InvalidReferenceError, match="storage URI"):
            _ = parsed.load_reference


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "job-abc",
        ":step-10",
        "job-abc:",
        "job\\abc:step",
        "job-abc:step\\10",
        "gs://",
        "gs:///abs",
        "gs://bucket//x",
        "gs://bucket/../x",
        "ftp://host/x",
        "job/abc:step-10",
        "job-abc:step/10",
        "job\n:step-1",
        None,
    ],
)
def test_init_from_checkpoint_rejected(bad: object) -> None:
    with pytest.raises(InvalidReferenceError):
        parse_init_from_checkpoint(bad)


@given(st.text(max_size=60))
def test_init_from_checkpoint_property(text: str) -> None:
    try:
        parsed = parse_init_from_checkpoint(text)
    except InvalidReferenceError:
        return
    assert (parsed.uri is None) == (parsed.job_id is not None)


# Properties: any string parses or raises the documented error, and valid values round-trip.
PROPERTY = settings(max_examples=200)


@PROPERTY
@given(st.text())
@example("step-" + "1" * 5000)  # more digits than int() converts
@example("step-\u0661\u0662")  # Arabic-Indic digits are not a step
def test_logical_name_and_step_never_raise(text: str) -> None:
    logical = logical_name(text)
    assert text.startswith(logical)
    step = step_of(text)
    assert step is None or (isinstance(step, int) and step >= 0)
    if step is not None:
        assert logical.startswith("step-")
        assert logical.removeprefix("step-").isascii()


@PROPERTY
@given(st.text())
def test_any_checkpoint_name_is_accepted_or_rejected_cleanly(text: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", text.strip(), re.ASCII):
        with pytest.raises(InvalidNameError) as info:
            check_checkpoint_name(text)
        assert (info.value.value, info.value.expected) == (text, CHECKPOINT_NAME_RULE)
        return
    name = check_checkpoint_name(text)
    assert name == text.strip()
    assert check_checkpoint_name(name) == name
    # Whatever saves can be loaded back.
    assert check_load_reference(name) == name


@PROPERTY
@given(checkpoint_ids)
def test_valid_checkpoint_names_round_trip(name: str) -> None:
    assert check_checkpoint_name(f" {name}\n") == name


@PROPERTY
@given(ids, checkpoint_ids)
def test_cross_job_reference_round_trips_through_init_from_checkpoint(job: str, name: str) -> None:
    reference = cross_job_reference(job, name)
    assert reference == f"cross_job://{job}/{name}"
    assert check_load_reference(reference) == reference
    for text in (reference, f"{job}:{name}"):
        parsed = parse_init_from_checkpoint(text)
        assert (parsed.job_id, parsed.checkpoint_name, parsed.uri) == (job, name, None)
        assert parsed.load_reference == reference


@PROPERTY
@given(st.text(), st.text())
def test_cross_job_reference_of_any_parts_is_valid_or_rejected(job: str, name: str) -> None:
    try:
        reference = cross_job_reference(job, name)
    except InvalidArgumentError:
        return
    assert check_load_reference(reference) == reference
    assert parse_init_from_checkpoint(reference).load_reference == reference


# Short-id references, operation names, the model id rule, renamed checks -----------------


@pytest.mark.parametrize(
    ("cls", "value", "expected"),
    [
        (TrainerJobName, "job-abc", (None, "job-abc")),
        (TrainerJobName, "accounts/acme/rlorTrainerJobs/job-abc", ("acme", "job-abc")),
        (TrainerJobName, TrainerJobName("acme", "job-abc"), ("acme", "job-abc")),
        (ModelName, "qwen3-8b", (None, "qwen3-8b")),
        (
            ModelName,
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            ("fireworks", "llama-v3p1-8b-instruct"),
        ),
        (ModelName, ModelName("acme", "my-model"), ("acme", "my-model")),
    ],
)
def test_parse_ref(cls: Any, value: object, expected: tuple[str | None, str]) -> None:
    assert cls.parse_ref(value) == expected


@pytest.mark.parametrize(
    ("cls", "value"),
    [
        (TrainerJobName, ""),
        (TrainerJobName, "job abc"),
        (TrainerJobName, "accounts/acme/models/m"),
        (ModelName, "a.b"),
        (ModelName, "m" * 64),
        (ModelName, "accounts/acme/rlorTrainerJobs/j"),
    ],
)
def test_parse_ref_rejects(cls: Any, value: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        cls.parse_ref(value)
    assert info.value.expected == cls.TEMPLATE


@pytest.mark.parametrize("cls", [TrainerJobName, ModelName])
def test_parse_ref_of_a_non_string_is_an_invalid_argument(cls: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="must be a string, got int"):
        cls.parse_ref(42)


def test_a_bad_model_id_is_reported_as_a_model_id() -> None:
    with pytest.raises(
        InvalidNameError, match=r"invalid model id 'a\.b'.*" + re.escape(MODEL_ID_RULE)
    ):
        ModelName("acme", "a.b")


def test_operation_name() -> None:
    name = OperationName.parse("accounts/acme/operations/op-1")
    assert (name.account, name.operation_id) == ("acme", "op-1")
    assert str(name) == "accounts/acme/operations/op-1"
    assert OperationName.parse(name) is name
    for bad in ("accounts/acme/op-1", "accounts/acme/operations/", "accounts/a/models/m", "op"):
        with pytest.raises(InvalidNameError, match=re.escape(OperationName.TEMPLATE)):
            OperationName.parse(bad)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("validate_checkpoint_name", check_checkpoint_name),
        ("validate_load_reference", check_load_reference),
    ],
)
def test_renamed_checks_still_import_with_a_warning(old: str, new: Any) -> None:
    for module in (checkpoints_package, names_module):
        with pytest.warns(DeprecationWarning, match=f"{old} is deprecated.*{new.__name__}"):
            assert getattr(module, old) is new


@pytest.mark.parametrize(
    ("old", "where"),
    [
        ("OperationStatus", "fireworks_training.operations"),
        ("RpcStatus", "fireworks_training.operations"),
        ("choose_sampler_type", "fireworks_training.checkpoints.kinds"),
    ],
)
def test_request_level_names_moved_out_of_the_domain_package(old: str, where: str) -> None:
    with pytest.warns(DeprecationWarning, match=re.escape(f"use {where}.{old}")):
        value = getattr(checkpoints_package, old)
    assert value is getattr(importlib.import_module(where), old)
    assert old not in checkpoints_package.__all__
