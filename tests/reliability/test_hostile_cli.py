"""The command line against hostile servers and interrupted runs (issue 15 §5, issue 14).

Every failure is one line on stderr and an exit code (1 for the service or anything
unexpected, 2 for bad input, before any request); ``-v`` adds the traceback. Server text is
printed as it is: rich markup in it is shown, not interpreted, and control characters are
escaped. ``checkpoints promote --checkpoints-jsonl`` alone is enough, and running it again
after an interruption reports the model the first run made.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireworks_training.checkpoints import CheckpointKind
from fireworks_training.checkpoints.workflow import TrainingCheckpoints
from fireworks_training.cli import default_output_model_id, main
from fireworks_training.clients.fireworks import FireworksClient
from fireworks_training.clients.trainer import FiretitanServiceClient
from fireworks_training.demo import BASE_MODEL
from fireworks_training.emulator import Emulator

from .hostile import KEY, Conn, HostileServer, Received

ROW = "accounts/acme/rlorTrainerJobs/j/checkpoints/step-1-a1b2c3d4"
MARKUP = "[/b] [bold red]x[/bold red] [link=http://evil]y[/link]"


def connection(url: str) -> list[str]:
    return ["--api-key", KEY, "--base-url", url, "--account-id", "acme"]


def listing(rows: list[dict[str, Any]]) -> Any:
    async def answer(request: Received, conn: Conn) -> None:
        await conn.reply(200, {"checkpoints": rows})

    return answer


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


def test_server_text_with_markup_is_printed_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    async def refuse(request: Received, conn: Conn) -> None:
        await conn.reply(403, {"error": {"message": f"denied {MARKUP} \x1b[2J\x07"}})

    with HostileServer(refuse) as server:
        code, _out, err = run_cli(
            ["checkpoints", "list", "--job-id", "j", *connection(server.url)], capsys
        )
    assert code == 1
    line = one_line(err)
    assert MARKUP in line
    assert "\\x1b[2J\\x07" in line
    assert "\x1b" not in err


def test_a_table_of_markup_is_shown_literally(capsys: pytest.CaptureFixture[str]) -> None:
    row = {"name": ROW, "checkpointType": MARKUP, "promotable": True}
    with HostileServer(listing([row])) as server:
        code, out, err = run_cli(
            ["checkpoints", "list", "--job-id", "j", *connection(server.url)], capsys
        )
    assert (code, err) == (0, "")
    assert "[/b]" in out
    assert "[bold red]x[/bold red]" in out


def test_a_promoted_model_named_in_markup_is_printed_as_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def answer(request: Received, conn: Conn) -> None:
        if request.path.endswith(":promote"):
            model = {"name": f"accounts/acme/models/{MARKUP}", "state": "[/]READY"}
            await conn.reply(200, {"model": model})
        else:
            await conn.reply(
                200,
                {
                    "checkpoints": [
                        {"name": ROW, "promotable": True, "checkpointType": "INFERENCE_BASE"}
                    ]
                },
            )

    argv = ["checkpoints", "promote", "--job-id", "j", "--base-model", BASE_MODEL]
    with HostileServer(answer) as server:
        code, out, err = run_cli([*argv, *connection(server.url)], capsys)
    assert code == 0, err
    assert f"promoted {ROW} -> accounts/acme/models/{MARKUP} ([/]READY)" in " ".join(out.split())


def test_a_row_whose_name_does_not_parse_is_the_servers_fault(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with HostileServer(listing([{"name": "not a checkpoint name"}])) as server:
        code, _out, err = run_cli(
            ["checkpoints", "list", "--job-id", "j", *connection(server.url)], capsys
        )
    assert code == 1
    assert "does not match the protocol" in one_line(err)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_reply_of_the_wrong_shape_is_one_line_or_a_traceback_with_v(
    capsys: pytest.CaptureFixture[str], verbose: bool
) -> None:
    async def garbage(request: Received, conn: Conn) -> None:
        await conn.reply(200, {"checkpoints": [{"name": ROW, "createTime": "soon"}]})

    argv = ["checkpoints", "list", "--job-id", "j"]
    with HostileServer(garbage) as server:
        flags = ["-v"] if verbose else []
        code, _out, err = run_cli([*flags, *argv, *connection(server.url)], capsys)
    assert code == 1
    if verbose:
        assert "Traceback (most recent call last)" in err
        assert err.splitlines()[-1].startswith("error: checkpoints of j: reply does not match")
    else:
        assert one_line(err).startswith(
            "error: checkpoints of j: reply does not match the protocol"
        )
        assert "createTime" in err
    assert KEY not in err


def test_anything_unexpected_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(rows: Any) -> Any:
        raise ZeroDivisionError("a bug\nover two lines")

    monkeypatch.setattr("fireworks_training.checkpoints.newest_first", broken)
    with HostileServer(listing([])) as server:
        code, _out, err = run_cli(
            ["checkpoints", "list", "--job-id", "j", *connection(server.url)], capsys
        )
    assert code == 1
    assert one_line(err) == "error: unexpected ZeroDivisionError: a bug over two lines"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:99999", "localhost:8080", "http://"]
)
def test_a_base_url_that_cannot_work_exits_2_at_once(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run_cli(
        ["checkpoints", "list", "--job-id", "j", "--base-url", url, "--api-key", KEY], capsys
    )
    assert code == 2
    assert "base_url must be an http(s) URL" in one_line(err)


# Promote from the ledger alone, and again after an interruption ----------------------------


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "emulator", long_poll_seconds=0.5) as emulator:
        yield emulator


@pytest.fixture
def run_dir(emu: Emulator, tmp_path: Path) -> tuple[str, Path]:
    """A job whose run saved promotable checkpoints at steps 1 and 2; its ledger."""
    job = emu.create_trainer_job(base_model=BASE_MODEL, job_id="ledger-run")
    with (
        FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control,
        FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service,
    ):
        trainer = service.create_training_client(BASE_MODEL)
        ckpt = TrainingCheckpoints(
            trainer, control, trainer_job_id=job, log_path=tmp_path / "run", base_model=BASE_MODEL
        )
        ckpt.save("step-1", kind=CheckpointKind.BOTH, step=1, data_consumed=4)
        ckpt.save("step-2", kind=CheckpointKind.SAMPLER, step=2, data_consumed=8)
    return job, tmp_path / "run" / "checkpoints.jsonl"


def promote_argv(emu: Emulator, jsonl: Path, *extra: str) -> list[str]:
    argv = ["checkpoints", "promote", "--checkpoints-jsonl", str(jsonl), *extra]
    return [*argv, "--api-key", emu.api_key, "--base-url", emu.base_url]


def test_the_ledger_alone_is_enough_to_promote_the_latest(
    emu: Emulator, run_dir: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _job, jsonl = run_dir
    code, out, err = run_cli(promote_argv(emu, jsonl), capsys)
    assert code == 0, err
    (promote,) = [r for r in emu.request_log if r.path.endswith(":promote")]
    checkpoint = promote.path.rsplit("/", 1)[1].removesuffix(":promote")
    assert checkpoint.startswith("step-2-")
    assert promote.body["base_model"] == BASE_MODEL
    assert promote.body["output_model"].endswith(f"/models/ledger-run-{checkpoint}")
    assert f"accounts/{emu.account_id}/models/ledger-run-{checkpoint}" in out


@pytest.mark.parametrize("copy", ["done", "still copying"])
def test_promote_again_after_an_interruption_reports_the_same_model(
    emu: Emulator, run_dir: tuple[str, Path], capsys: pytest.CaptureFixture[str], copy: str
) -> None:
    job, jsonl = run_dir
    # The first run dies after the server accepted the promotion, while the copy goes on.
    emu.set_promotion_mode("async", 3600.0 if copy == "done" else 1.0)
    with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control:
        promotable = [r for r in control.list_checkpoints(job) if r.promotable]
        row = max(promotable, key=lambda r: r.step or 0)
        output = default_output_model_id(job, row.checkpoint_id)
        control.begin_promote_checkpoint(
            name=row.name, output_model_id=output, base_model=BASE_MODEL
        )
        if copy == "done":
            emu.advance_time(3600.0)
        else:
            assert control.get_model(output).state != "READY"
    code, out, err = run_cli(promote_argv(emu, jsonl), capsys)
    assert code == 0, err
    assert f"note: {output} was already made from this checkpoint" in err
    assert f"-> accounts/{emu.account_id}/models/{output} (READY)" in " ".join(out.split())
    assert len([r for r in emu.request_log if r.path.endswith(":promote")]) == 2


def test_a_model_of_another_checkpoint_under_that_id_is_a_conflict(
    emu: Emulator, run_dir: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    job, jsonl = run_dir
    with FireworksClient(emu.api_key, emu.base_url, account_id=emu.account_id) as control:
        rows = [r for r in control.list_checkpoints(job) if r.promotable]
        newest = max(rows, key=lambda r: r.step or 0)
        oldest = min(rows, key=lambda r: r.step or 0)
        taken = default_output_model_id(job, newest.checkpoint_id)
        control.promote_checkpoint(name=oldest.name, output_model_id=taken, base_model=BASE_MODEL)
    code, _out, err = run_cli(promote_argv(emu, jsonl), capsys)
    assert code == 1
    assert one_line(err).startswith("error: 409 POST ")


def test_a_ledger_that_names_no_job_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = tmp_path / "checkpoints.jsonl"
    jsonl.write_text('{"name": "step-1", "sampler_path": "step-1-a1b2c3d4"}\n')
    argv = ["checkpoints", "promote", "--checkpoints-jsonl", str(jsonl), "--api-key", KEY]
    code, _out, err = run_cli([*argv, "--base-url", f"http://127.0.0.1:{free_port()}"], capsys)
    assert code == 2
    assert "names no trainer job" in one_line(err)


@pytest.mark.parametrize(
    ("job", "checkpoint", "expected"),
    [
        ("my-run", "step-10-a1b2c3d4", "my-run-step-10-a1b2c3d4"),
        ("accounts/a/rlorTrainerJobs/My_Run", "final", "my-run-final"),
        ("j" * 80, "step-1", "j" * 56 + "-step-1"),
    ],
)
def test_the_default_output_model_id(job: str, checkpoint: str, expected: str) -> None:
    assert default_output_model_id(job, checkpoint) == expected
