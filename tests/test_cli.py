"""The ``fireworks-training`` command against the emulator: output, exit codes, requests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import Checkpoint, CheckpointKind
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.cli import main
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL

emulator_module = pytest.importorskip("fireworks_training.emulator")


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with emulator_module.Emulator() as emulator:
        yield emulator


@pytest.fixture
def env(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FIREWORKS_API_KEY", emu.api_key)
    monkeypatch.setenv("FIREWORKS_BASE_URL", emu.base_url)
    return emu


@pytest.fixture
def trained_job(env: Any, tmp_path: Path) -> tuple[str, Path]:
    """A job with state saves at steps 1-2 and promotable saves at steps 2-3."""
    job = env.create_trainer_job(base_model=BASE_MODEL)
    with (
        FireworksClient(env.api_key, env.base_url, account_id=env.account_id) as control,
        FiretitanServiceClient(env.trainer_url(job), api_key=env.api_key) as service,
    ):
        trainer = service.create_training_client(BASE_MODEL)
        ckpt = TrainingCheckpoints(
            trainer, control, trainer_job_id=job, log_path=tmp_path, base_model=BASE_MODEL
        )
        ckpt.save("step-1", step=1, data_consumed=4)
        ckpt.save("step-2", kind=CheckpointKind.BOTH, step=2, data_consumed=8)
        ckpt.save("step-3", kind=CheckpointKind.SAMPLER, step=3, data_consumed=12)
    return job, tmp_path / "checkpoints.jsonl"


def test_list_json(trained_job: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    job, _ = trained_job
    assert main(["checkpoints", "list", "--job-id", job, "--json"]) == 0
    rows = [Checkpoint.model_validate(row) for row in json.loads(capsys.readouterr().out)]
    assert [(r.logical_name, r.checkpoint_type.short_name, r.promotable) for r in rows] == [
        ("step-3", "INFERENCE_BASE", True),
        ("step-2", "INFERENCE_BASE", True),
        ("step-2", "TRAINING", False),
        ("step-1", "TRAINING", False),
    ]


def test_list_table(trained_job: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    job, _ = trained_job
    assert main(["checkpoints", "list", "--job-id", job]) == 0
    out = capsys.readouterr().out
    assert "INFERENCE_BASE" in out
    assert "TRAINING" in out


def test_promote_latest_with_base_model_from_ledger(
    trained_job: tuple[str, Path], env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    job, jsonl = trained_job
    args = ["checkpoints", "promote", "--job-id", job, "--output-model-id", "cli-latest"]
    assert main([*args, "--checkpoints-jsonl", str(jsonl), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["name"] == f"accounts/{env.account_id}/models/cli-latest"
    assert model["sourceCheckpoint"].rsplit("/", 1)[1].startswith("step-3-")
    promote = [r for r in env.request_log if r.path.endswith(":promote")][-1]
    assert promote.body["base_model"] == BASE_MODEL


def test_promote_by_step(trained_job: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    job, _ = trained_job
    args = ["checkpoints", "promote", "--job-id", job, "--step", "2"]
    assert main([*args, "--output-model-id", "cli-step-2", "--base-model", BASE_MODEL]) == 0
    assert "promoted" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--output-model-id", "Bad_Id"], 2, "invalid output_model_id"),
        (["--output-model-id", "ok-id", "--step", "99"], 3, "no promotable checkpoint at step 99"),
    ],
)
def test_promote_errors(
    trained_job: tuple[str, Path],
    env: Any,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    message: str,
) -> None:
    job, _ = trained_job
    before = len(env.request_log)
    assert main(["checkpoints", "promote", "--job-id", job, *extra]) == code
    assert message in capsys.readouterr().err
    promotes = [r for r in env.request_log[before:] if r.path.endswith(":promote")]
    assert promotes == []
    if code == 2:
        assert len(env.request_log) == before


def test_unknown_job_is_a_service_failure(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checkpoints", "list", "--job-id", "no-such-job"]) == 1
    assert "404" in capsys.readouterr().err


def test_missing_key_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    assert main(["checkpoints", "list", "--job-id", "j"]) == 2
    assert "FIREWORKS_API_KEY" in capsys.readouterr().err


def test_python_dash_m_and_demo(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fireworks_training",
            "demo",
            "--steps",
            "12",
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "resumed from step-5" in result.stdout
    assert "equal" in result.stdout
