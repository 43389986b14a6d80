"""Bad input across the public API: the documented ``ValueError`` subclass, and no request.

Every case runs against live clients of a running emulator; the emulator's request log must
not grow. ``InvalidArgumentError`` and its subclasses are the documented errors; the two
enum helpers document a plain ``ValueError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import (
    CheckpointKind,
    CheckpointName,
    ModelName,
    SamplerCheckpointType,
    TrainerJobName,
    parse_init_from_checkpoint,
    require_output_model_id,
)
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.clients.jobs import TrainerJobConfig, TrainerJobManager
from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient
from fireworks_training.demo import BASE_MODEL
from fireworks_training.emulator import Emulator
from fireworks_training.errors import (
    InvalidArgumentError,
    InvalidModelIdError,
    InvalidNameError,
    InvalidReferenceError,
)

JOB = "bad-input"
ROW = f"accounts/emulator/rlorTrainerJobs/{JOB}/checkpoints/step-1-0123abcd"
LONG = "x" * 300


@dataclass
class Api:
    """Live clients of one emulator."""

    emu: Emulator
    control: FireworksClient
    async_control: AsyncFireworksClient
    jobs: TrainerJobManager
    service: FiretitanServiceClient
    trainer: FiretitanTrainingClient
    ckpt: TrainingCheckpoints


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("bad-input")
    with Emulator(root / "emulator") as emu:
        emu.create_trainer_job(base_model=BASE_MODEL, job_id=JOB)
        key, url = emu.api_key, emu.base_url
        with (
            FireworksClient(key, url, account_id=emu.account_id) as control,
            TrainerJobManager(key, url, account_id=emu.account_id) as jobs,
            FiretitanServiceClient(emu.trainer_url(JOB), key, heartbeat_interval_s=None) as svc,
        ):
            async_control = AsyncFireworksClient(key, url, account_id=emu.account_id)
            trainer = svc.create_training_client(BASE_MODEL)
            ckpt = TrainingCheckpoints(
                trainer, control, trainer_job_id=JOB, log_path=root / "run", base_model=BASE_MODEL
            )
            yield Api(emu, control, async_control, jobs, svc, trainer, ckpt)
            asyncio.run(async_control.close())


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


Case = tuple[str, Callable[[Api], Any], type[ValueError]]
NAME = InvalidNameError
ARG = InvalidArgumentError
MODEL_ID = InvalidModelIdError
REF = InvalidReferenceError

CASES: list[Case] = [
    # Control plane: job ids, checkpoint ids, names, page sizes.
    ("job id with a slash", lambda a: a.control.list_checkpoints("job/abc"), NAME),
    ("empty job id", lambda a: a.control.list_checkpoints(""), NAME),
    ("job id with a space", lambda a: a.control.list_checkpoints("my job"), NAME),
    ("unicode job id", lambda a: a.control.list_checkpoints("jöb-1"), NAME),
    ("very long job id", lambda a: a.control.list_checkpoints(LONG), NAME),
    ("job id not a string", lambda a: a.control.list_checkpoints(42), ARG),  # type: ignore[arg-type]
    ("page size 0", lambda a: a.control.list_checkpoints(JOB, page_size=0), ARG),
    ("page size 1001", lambda a: a.control.list_checkpoints(JOB, page_size=1001), ARG),
    ("negative page size", lambda a: a.control.list_checkpoints(JOB, page_size=-5), ARG),
    ("page size as text", lambda a: a.control.list_checkpoints(JOB, page_size="9"), ARG),  # type: ignore[arg-type]
    ("page size bool", lambda a: a.control.list_checkpoints(JOB, page_size=True), ARG),
    ("page size float", lambda a: a.control.iter_checkpoints(JOB, page_size=2.5), ARG),  # type: ignore[arg-type]
    ("async page size 0", lambda a: run(a.async_control.list_checkpoints(JOB, page_size=0)), ARG),
    ("async empty job id", lambda a: run(a.async_control.list_checkpoints("")), NAME),
    ("empty checkpoint id", lambda a: a.control.checkpoint_name(JOB, ""), NAME),
    ("checkpoint id with ..", lambda a: a.control.checkpoint_name(JOB, "../x"), NAME),
    ("checkpoint id with NUL", lambda a: a.control.checkpoint_name(JOB, "a\x00b"), NAME),
    ("empty model id", lambda a: a.control.get_model(""), NAME),
    ("model id with a space", lambda a: a.control.get_model("my model"), NAME),
    ("truncated model name", lambda a: a.control.get_model("accounts/a/models"), NAME),
    ("empty operation name", lambda a: a.control.get_operation(""), ARG),
    ("operation name with a space", lambda a: a.control.get_operation("accounts/a/op 1"), ARG),
    ("operation name from root", lambda a: a.control.get_operation("/accounts/a/op"), ARG),
    # Promotion arguments.
    ("promote: 3-segment name", lambda a: promote(a, name=ROW.rsplit("/", 2)[0]), NAME),
    ("promote: name not a string", lambda a: promote(a, name=7), ARG),
    ("promote: upper-case model id", lambda a: promote(a, output_model_id="MyModel"), MODEL_ID),
    ("promote: empty model id", lambda a: promote(a, output_model_id=""), MODEL_ID),
    ("promote: 64-char model id", lambda a: promote(a, output_model_id="m" * 64), MODEL_ID),
    ("promote: unicode model id", lambda a: promote(a, output_model_id="modèle"), MODEL_ID),
    ("promote: underscore model id", lambda a: promote(a, output_model_id="my_model"), MODEL_ID),
    ("promote: no model id", lambda a: promote(a, output_model_id=None), ARG),
    ("promote: name and checkpoint id", lambda a: promote(a, checkpoint_id="c"), ARG),
    ("promote: name of another job", lambda a: promote(a, job_id="other-job"), ARG),
    ("promote: blank base model", lambda a: promote(a, base_model="   "), ARG),
    ("promote: nothing named", lambda a: promote(a, name=None), ARG),
    (
        "begin promote: model id with a space",
        lambda a: a.control.begin_promote_checkpoint(name=ROW, output_model_id="a b"),
        MODEL_ID,
    ),
    # Trainer jobs.
    ("create: dict config", lambda a: a.jobs.create({"baseModel": BASE_MODEL}), ARG),  # type: ignore[arg-type]
    ("create: job id with a slash", lambda a: a.jobs.create(config(), job_id="a/b"), NAME),
    ("get: empty job id", lambda a: a.jobs.get(""), NAME),
    ("delete: very long job id", lambda a: a.jobs.delete(LONG), NAME),
    ("wait: zero timeout", lambda a: a.jobs.wait_for_ready(JOB, timeout=0), ARG),
    ("reconnect: negative timeout", lambda a: a.jobs.reconnect_and_wait(JOB, timeout=-1), ARG),
    ("resume: infinite timeout", lambda a: a.jobs.resume_and_wait(JOB, float("inf")), ARG),
    (
        "create_and_wait: NaN timeout",
        lambda a: a.jobs.create_and_wait(config(), timeout=nan()),
        ARG,
    ),
    ("trainer_url: unicode job id", lambda a: a.jobs.trainer_url("jöb"), NAME),
    ("config: empty base model", lambda a: TrainerJobConfig(""), ARG),
    ("config: negative LoRA rank", lambda a: TrainerJobConfig(BASE_MODEL, lora_rank=-1), ARG),
    ("config: NaN learning rate", lambda a: TrainerJobConfig(BASE_MODEL, learning_rate=nan()), ARG),
    ("config: zero nodes", lambda a: TrainerJobConfig(BASE_MODEL, node_count=0), ARG),
    ("config: very long name", lambda a: TrainerJobConfig(BASE_MODEL, display_name=LONG * 2), ARG),
    # Trainer: checkpoint names, load references, types, TTLs, ranks.
    ("save_state: empty name", lambda a: a.trainer.save_state(""), NAME),
    ("save_state: path escape", lambda a: a.trainer.save_state("../escape"), NAME),
    ("save_state: space", lambda a: a.trainer.save_state("step 1"), NAME),
    ("save_state: 129 chars", lambda a: a.trainer.save_state("s" * 129), NAME),
    ("save_state: unicode", lambda a: a.trainer.save_state("ステップ-1"), NAME),
    ("save_state: zero TTL", lambda a: a.trainer.save_state("s", ttl_seconds=0), ARG),
    ("save_state: fractional TTL", lambda a: a.trainer.save_state("s", ttl_seconds=1.5), ARG),  # type: ignore[arg-type]
    ("load_state: empty", lambda a: a.trainer.load_state(""), REF),
    ("load_state: absolute path", lambda a: a.trainer.load_state("/tmp/ckpt"), REF),
    ("load_state: gs:// URI", lambda a: a.trainer.load_state("gs://bucket/ckpt"), REF),
    ("load_state: cross_job ..", lambda a: a.trainer.load_state("cross_job://j/../x"), REF),
    ("load_state: backslash", lambda a: a.trainer.load_state_with_optimizer("a\\b"), REF),
    ("load_state: NUL", lambda a: a.trainer.load_state_with_optimizer("step\x00"), REF),
    ("sampler: empty name", lambda a: a.trainer.save_weights_for_sampler(""), NAME),
    (
        "sampler: unknown type",
        lambda a: a.trainer.save_weights_for_sampler("s", checkpoint_type="full"),
        ValueError,
    ),
    ("sampler ext: long name", lambda a: a.trainer.save_weights_for_sampler_ext(LONG), NAME),
    ("forward_backward: empty loss", lambda a: a.trainer.forward_backward([], loss_fn=""), ARG),
    ("resolve: bad name", lambda a: a.trainer.resolve_checkpoint_path("a b"), NAME),
    ("resolve: bad job", lambda a: a.trainer.resolve_checkpoint_path("s", "a/b"), REF),
    ("training client: blank model", lambda a: a.service.create_training_client(" "), ARG),
    ("training client: rank -1", lambda a: a.service.create_training_client("m", -1), ARG),
    # Workflow.
    ("workflow: negative interval", lambda a: workflow(a, dcp_save_interval=-1), ARG),
    ("workflow: bool interval", lambda a: workflow(a, dcp_save_interval=True), ARG),
    ("workflow: bad output model", lambda a: workflow(a, output_model_id="Final"), MODEL_ID),
    ("save: bad name", lambda a: a.ckpt.save("final save"), NAME),
    ("save: negative step", lambda a: a.ckpt.save("s", step=-1), ARG),
    (
        "save: neither kind",
        lambda a: a.ckpt.save("s", resumable=False, promotable=False),
        ValueError,
    ),
    ("resume: no colon", lambda a: a.ckpt.resume("job-step-5"), REF),
    ("resume: dot-dot", lambda a: a.ckpt.resume("job:../step-5"), REF),
    ("resume: unknown scheme", lambda a: a.ckpt.resume("ftp://host/ckpt"), REF),
    ("promote: bad model id", lambda a: a.ckpt.promote(output_model_id="UP"), MODEL_ID),
    (
        "promote: step and name",
        lambda a: a.ckpt.promote(output_model_id="ok", step=1, checkpoint_name="s"),
        ARG,
    ),
    # Names and kinds.
    (
        "kind from no flags",
        lambda a: CheckpointKind.from_flags(resumable=False, promotable=False),
        ValueError,
    ),
    ("sampler type parse", lambda a: SamplerCheckpointType.parse("fp8"), ValueError),
    ("checkpoint name: 3 segments", lambda a: CheckpointName.parse(ROW.rsplit("/", 2)[0]), NAME),
    ("model name: empty", lambda a: ModelName.parse(""), NAME),
    (
        "job name: empty account",
        lambda a: TrainerJobName.parse("accounts//rlorTrainerJobs/j"),
        NAME,
    ),
    ("init_from_checkpoint: empty", lambda a: parse_init_from_checkpoint(""), REF),
    ("output model id: 70 dashes", lambda a: require_output_model_id("-" * 70), MODEL_ID),
    # Client configuration.
    ("client: ftp base URL", lambda a: FireworksClient(a.emu.api_key, "ftp://x"), ARG),
    ("client: account with a slash", lambda a: client(a, account_id="a/b"), NAME),
    ("client: zero timeout", lambda a: client(a, timeout=0), ARG),
    ("client: blank API key", lambda a: FireworksClient("  ", a.emu.base_url), ARG),
    ("manager: bad gateway URL", lambda a: manager(a, trainer_gateway_url="gw"), ARG),
    ("service: empty trainer URL", lambda a: FiretitanServiceClient("", a.emu.api_key), ARG),
]


def promote(a: Api, **overrides: Any) -> Any:
    kwargs: dict[str, Any] = {"name": ROW, "output_model_id": "ok", "base_model": BASE_MODEL}
    return a.control.promote_checkpoint(**{**kwargs, **overrides})


def config() -> TrainerJobConfig:
    return TrainerJobConfig(BASE_MODEL)


def nan() -> float:
    return float("nan")


def workflow(a: Api, **kwargs: Any) -> TrainingCheckpoints:
    return TrainingCheckpoints(
        a.trainer, a.control, trainer_job_id=JOB, log_path=Path("unused"), **kwargs
    )


def client(a: Api, **kwargs: Any) -> FireworksClient:
    return FireworksClient(a.emu.api_key, a.emu.base_url, **kwargs)


def manager(a: Api, **kwargs: Any) -> TrainerJobManager:
    return TrainerJobManager(a.emu.api_key, a.emu.base_url, **kwargs)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 50
    assert len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "act", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_request(
    api: Api, case: str, act: Callable[[Api], Any], expected: type[ValueError]
) -> None:
    before = len(api.emu.request_log)
    with pytest.raises(expected) as info:
        act(api)
    assert isinstance(info.value, ValueError)
    if expected is not ValueError:
        assert isinstance(info.value, InvalidArgumentError)
    assert str(info.value)
    assert len(api.emu.request_log) == before, f"{case}: a request was sent"
