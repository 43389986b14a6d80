"""The Python API, the request log, the pytest fixture, the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.command import add_arguments, run
from fireworks_training.emulator.settings import Settings, SettingsOverrides

from .kit import emulator_process, read_line


def test_addresses_and_identity(emu: Emulator) -> None:
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert not emu.base_url.endswith(":0")
    assert emu.api_key == "emulator-key"
    assert emu.account_id == "emulator"
    assert emu.trainer_url("j1") == f"{emu.base_url}/training/v1/rlorTrainerJobs/emulator/j1"


def test_custom_key_and_account(tmp_path: Path) -> None:
    with Emulator(api_key="k-1", account_id="acme") as emu:
        response = httpx.get(f"{emu.base_url}/v1/accounts", headers={"X-Api-Key": "k-1"})
        assert response.json()["accounts"][0]["name"] == "accounts/acme"
        job = emu.create_trainer_job()
        assert emu.trainer_url(job).endswith(f"/rlorTrainerJobs/acme/{job}")


def test_temporary_state_dir_is_removed_on_close() -> None:
    emu = Emulator().start()
    state = emu.state_dir
    assert state.exists()
    emu.close()
    assert not state.exists()


def test_request_log_records_and_redacts_in_repr(emu: Emulator, http: httpx.Client) -> None:
    emu.request_log.clear()
    http.post(
        "/v1/accounts/emulator/rlorTrainerJobs", params={"rlorTrainerJobId": "j"}, json={"x": 1}
    )
    (entry,) = emu.request_log
    method, path, body, headers = entry
    assert (method, body) == ("POST", {"x": 1})
    assert path == "/v1/accounts/emulator/rlorTrainerJobs?rlorTrainerJobId=j"
    assert entry.route == "/v1/accounts/emulator/rlorTrainerJobs"
    assert headers["x-api-key"] == emu.api_key
    assert emu.api_key not in repr(entry)


def test_the_packaged_fixture(fireworks_emulator: Emulator, emu: Emulator) -> None:
    assert emu is fireworks_emulator  # this suite's own emulator is the packaged fixture
    assert emu.settings.long_poll_seconds == 0.5  # from this conftest's settings fixture
    headers = {"X-Api-Key": fireworks_emulator.api_key}
    assert httpx.get(f"{fireworks_emulator.base_url}/v1/accounts", headers=headers).is_success


@pytest.mark.fireworks_emulator(account_id="acme", promotion_mode="async")
def test_the_packaged_fixture_takes_settings_from_a_marker(fireworks_emulator: Emulator) -> None:
    settings = fireworks_emulator.settings
    assert (settings.account_id, settings.promotion_mode) == ("acme", "async")
    assert settings.long_poll_seconds == 0.5  # the rest still comes from the settings fixture
    assert fireworks_emulator.trainer_url("j").endswith("/rlorTrainerJobs/acme/j")


def test_settings_have_one_set_of_defaults(tmp_path: Path) -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(SettingsOverrides.__annotations__) == names
    defaults = Settings()
    parsed = _parse()
    flags = names & set(vars(parsed)) - {"api_key", "port"}  # None: env var, else default
    assert {"host", "account_id", "promotion_mode", "long_poll_seconds"} <= flags
    for name in flags:
        assert getattr(parsed, name) == getattr(defaults, name), name
    emu = Emulator(tmp_path / "a", settings=Settings(account_id="acme"), long_poll_seconds=2)
    assert (emu.settings.account_id, emu.settings.long_poll_seconds) == ("acme", 2)
    assert emu.settings.promotion_seconds == defaults.promotion_seconds
    with pytest.raises(TypeError):
        Emulator(tmp_path / "b", no_such_setting=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="job_start_seconds must not be negative"):
        Settings(job_start_seconds=-1)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_switches_faults_on_a_running_emulator(
    emu: Emulator, http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ("--api-key", emu.api_key, "faults", "--url", emu.base_url)
    assert (
        run(
            _parse(
                *common,
                "add",
                "--route",
                "/v1/accounts",
                "--script",
                "503,ok",
                "--retry-after",
                "2",
            )
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["script"] == [503, None]
    assert http.get("/v1/accounts").status_code == 503
    assert run(_parse(*common, "list")) == 0
    assert json.loads(capsys.readouterr().out)["stats"]["503"] == 1
    assert run(_parse(*common, "clear")) == 0
    job = emu.create_trainer_job()
    assert run(_parse(*common, "preempt", job)) == 0
    assert emu.job_state(job) == "JOB_STATE_FAILED"
    assert run(_parse(*common, "promotion", "--mode", "async", "--seconds", "2")) == 0
    capsys.readouterr()


def test_cli_adds_a_latency_spike(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    faults = ("--api-key", emu.api_key, "faults", "--url", emu.base_url, "add")
    spike = ("--route", "models", "--spike", "--latency", "0.25", "--rate", "0.5", "--seed", "1")
    assert run(_parse(*faults, *spike)) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["statuses"], added["latency_s"], added["rate"]) == ([], 0.25, 0.5)
    fired = [emu.faults.decide("/v1/accounts/emulator/models") for _ in range(20)]
    assert {(f.latency_s, f.status, f.drop) for f in fired if f is not None} == {(0.25, None, None)}
    assert emu.faults.stats()["latency_spike"] == sum(f is not None for f in fired) > 0
    assert run(_parse(*faults, "--spike")) == 2
    assert "--spike needs --latency" in capsys.readouterr().err
    assert run(_parse(*faults, "--spike", "--latency", "1", "--drop-connection")) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit):
        _parse(*faults, "--spike", "--status", "503", "--latency", "1")
    assert len(emu.faults.rules) == 1


def test_cli_reports_a_wrong_key_and_an_unreachable_emulator(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_parse("faults", "--url", emu.base_url, "--api-key", "wrong", "list")) == 1
    assert "401" in capsys.readouterr().err
    assert run(_parse("faults", "--url", "http://127.0.0.1:9", "list")) == 2


def test_python_dash_m_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fireworks_training.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "--state-dir" in result.stdout
    assert "faults" in result.stdout


def test_the_command_serves_until_terminated(tmp_path: Path) -> None:
    secret = "secret-key-123"
    command = [sys.executable, "-m", "fireworks_training.emulator", "--port", "0"]
    command += ["--state-dir", str(tmp_path / "state"), "--api-key", secret]
    with emulator_process(command) as child:
        headers = {"X-Api-Key": secret}
        response = httpx.get(f"{child.url}/v1/accounts", headers=headers, timeout=10)
        assert response.json()["accounts"][0]["name"] == "accounts/emulator"
        body = {"trainingConfig": {"baseModel": "accounts/fireworks/models/tiny-bigram"}}
        created = httpx.post(
            f"{child.url}/v1/accounts/emulator/rlorTrainerJobs", json=body, headers=headers
        )
        assert created.is_success
    assert secret not in child.banner + child.out + child.err
    assert (tmp_path / "state" / "control.json").exists()


def test_read_line_gives_up_on_a_silent_child() -> None:
    command = [sys.executable, "-c", "import sys; sys.stdin.read()"]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            with pytest.raises(AssertionError, match=r"no output line within 0\.1 s"):
                read_line(proc.stdout, timeout=0.1)
        finally:
            proc.stdin.close()  # the child exits; the reader gets end of file
            proc.wait(timeout=30)


def test_create_trainer_job_is_idempotent_by_id(emu: Emulator) -> None:
    assert emu.create_trainer_job(job_id="same") == "same"
    assert emu.create_trainer_job(job_id="same") == "same"
    with pytest.raises(ValueError, match="lora_rank=0"):
        emu.create_trainer_job(job_id="same", lora_rank=4)
