"""The ``fireworks-training`` command against the emulator: output, exit codes, requests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fireworks_training._console import checkpoint_table, ledger_kinds
from fireworks_training.checkpoints import Checkpoint, CheckpointKind
from fireworks_training.checkpoints.ledger import Ledger
from fireworks_training.checkpoints.names import logical_name
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


@pytest.mark.parametrize("by", ["logical", "exact"])
def test_promote_by_checkpoint_name(
    trained_job: tuple[str, Path], env: Any, capsys: pytest.CaptureFixture[str], by: str
) -> None:
    job, jsonl = trained_job
    exact = json.loads(jsonl.read_text().splitlines()[1])["sampler_path"]
    assert exact.startswith("step-2-")
    name = "step-2" if by == "logical" else exact
    args = ["checkpoints", "promote", "--job-id", job, "--checkpoint-name", name]
    args += ["--output-model-id", f"cli-name-{by}", "--checkpoints-jsonl", str(jsonl)]
    before = len(env.request_log)
    assert main(args) == 0
    assert f"promoted accounts/{env.account_id}/rlorTrainerJobs/{job}/checkpoints/{exact}" in (
        capsys.readouterr().out
    )
    (promote,) = [r for r in env.request_log[before:] if r.path.endswith(":promote")]
    assert promote.path == f"/v1/accounts/{env.account_id}/checkpoints/{exact}:promote"
    assert promote.body["base_model"] == BASE_MODEL


def test_promote_nothing_matched(
    trained_job: tuple[str, Path], env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    job, _ = trained_job
    before = len(env.request_log)
    args = ["checkpoints", "promote", "--job-id", job, "--output-model-id", "ok-id"]
    assert main([*args, "--step", "99"]) == 3
    assert "no promotable checkpoint at step 99" in capsys.readouterr().err
    assert [r for r in env.request_log[before:] if r.path.endswith(":promote")] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--output-model-id", "Bad_Id"], "invalid output_model_id"),
        (["--step", "-1"], "step must be an int >= 0, got -1"),
        (["--checkpoint-name", "bad name"], "invalid checkpoint name 'bad name'"),
        (["--checkpoint-name", "../step-2"], "invalid checkpoint name"),
        (["--checkpoints-jsonl", "{tmp}/missing.jsonl"], "missing.jsonl' is not a readable file"),
        (["--checkpoints-jsonl", "{tmp}"], "is not a readable file"),
        (["--timeout", "-1"], "--timeout must be finite and > 0, got -1.0"),
        (["--timeout", "nan"], "--timeout must be finite and > 0, got nan"),
        (["--timeout", "0"], "--timeout must be finite and > 0, got 0.0"),
        (["--timeout", "inf"], "--timeout must be finite and > 0, got inf"),
        (["--base-model", " "], "--base-model must not be empty"),
        (["--job-id", "bad job"], "invalid trainer job id 'bad job'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_promote_bad_input_sends_nothing(
    trained_job: tuple[str, Path],
    env: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    job, _ = trained_job
    extra = [part.replace("{tmp}", str(tmp_path)) for part in extra]
    before = len(env.request_log)
    args = ["checkpoints", "promote", "--job-id", job, "--output-model-id", "ok-id", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert list(env.request_log)[before:] == []


def test_promote_needs_a_job_or_a_ledger(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(env.request_log)
    assert main(["checkpoints", "promote", "--output-model-id", "ok-id"]) == 2
    assert capsys.readouterr().err == "error: pass --job-id or --checkpoints-jsonl (or both)\n"
    assert list(env.request_log)[before:] == []


def test_verbose_adds_the_traceback(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "checkpoints", "list", "--job-id", "no-such-job"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: 404 GET ")
    assert env.api_key not in err


def test_ctrl_c_exits_130(
    trained_job: tuple[str, Path],
    env: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(operation: Any, timeout: float | None, *, quiet: bool) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("fireworks_training._console.wait_with_spinner", interrupted)
    job, _ = trained_job
    args = ["checkpoints", "promote", "--job-id", job, "--output-model-id", "cli-ctrl-c"]
    assert main([*args, "--base-model", BASE_MODEL]) == 130
    assert capsys.readouterr().err == "interrupted\n"


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
    cells = {
        tuple(cell.strip() for cell in line.split("│")[1:4])
        for line in result.stdout.splitlines()
        if line.startswith("│ step-")
    }
    assert ("step-5", "STATE", "TRAINING") in cells
    assert ("step-12", "BOTH", "TRAINING") in cells
    assert any(kind == "BOTH" and kind_type == "INFERENCE_BASE" for _, kind, kind_type in cells)
    # The weight-sync table: step, snapshot, loaded as, bytes moved, held-out logprob, sample.
    syncs = [
        [cell.strip() for cell in line.split("│")[1:6]]
        for line in result.stdout.splitlines()
        if line.startswith("│ ") and line.split("│")[1].strip().isdigit()
    ]
    assert len(syncs) >= 3, result.stdout
    assert syncs[0][2] == "full"
    assert "delta" in {row[2] for row in syncs}
    full = [int(row[3].replace(",", "")) for row in syncs if row[2] == "full"]
    delta = [int(row[3].replace(",", "")) for row in syncs if row[2] == "delta"]
    assert max(delta) < min(full)
    logprobs = [float(row[4]) for row in syncs]
    assert logprobs[-1] > logprobs[0]  # training on the text makes the held-out line likelier


def test_checkpoint_table_kinds_from_the_ledger(trained_job: tuple[str, Path], env: Any) -> None:
    job, jsonl = trained_job
    with FireworksClient(env.api_key, env.base_url, account_id=env.account_id) as control:
        rows = control.list_checkpoints(job)
    kinds = ledger_kinds(Ledger.from_file(jsonl).records())
    out = Console(record=True, width=200)
    out.print(checkpoint_table(rows, title="t", kinds=kinds))
    table = [
        [cell.strip() for cell in line.split("│")[1:4]]
        for line in out.export_text().splitlines()
        if line.startswith("│")
    ]
    assert sorted((logical_name(cid), kind, kind_type) for cid, kind, kind_type in table) == [
        ("step-1", "STATE", "TRAINING"),
        ("step-2", "BOTH", "INFERENCE_BASE"),
        ("step-2", "BOTH", "TRAINING"),
        ("step-3", "SAMPLER", "INFERENCE_BASE"),
    ]
    plain = Console(record=True, width=200)
    plain.print(checkpoint_table(rows, title="t"))
    assert "kind" not in plain.export_text()
    assert checkpoint_table([], title="t", kinds={}).columns[1].header == "kind"


def test_emulator_console_script_serves_and_switches_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    from .emulator.kit import emulator_process

    key = "cli-emulator-key-42"
    script = Path(sys.executable).with_name("fireworks-training")
    command = [str(script), "emulator", "--host", "127.0.0.1", "--port", "0"]
    command += ["--state-dir", str(tmp_path / "state"), "--api-key", key]
    with emulator_process(command) as child:
        assert child.banner.startswith("Fireworks emulator on http://127.0.0.1:"), child.banner
        details = child.read_line() + child.read_line()
        assert f"state dir: {tmp_path / 'state'}\n" in details  # kept, not temporary
        url = child.url
        with httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=10) as http:
            assert http.get("/v1/accounts", headers={"X-Api-Key": "wrong"}).status_code == 401
            accounts = http.get("/v1/accounts").json()["accounts"]
            assert [a["name"] for a in accounts] == ["accounts/emulator"]
            faults = ["emulator", "faults", "--url", url, "--api-key", key]
            assert main([*faults, "add", "--route", "/v1/accounts", "--status", "502"]) == 0
            assert json.loads(capsys.readouterr().out)["statuses"] == [502]
            assert http.get("/v1/accounts").status_code == 502
            assert main([*faults, "list"]) == 0
            listed = json.loads(capsys.readouterr().out)
    assert listed["stats"] == {"total": 1, "502": 1}
    assert [rule["route"] for rule in listed["rules"]] == ["/v1/accounts"]
    assert key not in child.banner + details + child.out + child.err


@pytest.mark.parametrize(
    ("argv", "loaded"),
    [
        (["checkpoints", "list", "--job-id", "j"], []),
        (["migrate", "--check", "x.py"], ["libcst"]),
        (["emulator", "--port", "0"], ["fireworks_training.emulator.command"]),
    ],
)
def test_a_command_imports_only_its_own_extra(argv: list[str], loaded: list[str]) -> None:
    # libcst alone costs ~0.2 s: parsing `checkpoints ...` must not pay for the codemod.
    code = (
        "import sys; from fireworks_training.cli import _build_parser; "
        f"_build_parser({argv[0]!r}).parse_args({argv!r}); "
        "print(sorted(m for m in ('libcst', 'fireworks_training.emulator.command') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == str(loaded)
