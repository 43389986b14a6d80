"""The command: files and directories, --check, --diff, writing in place, report, exit codes."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from fireworks_training.migrate import add_arguments, main_from_args, run

LEGACY = "m = client.promote_checkpoint(job, snap, 'out')\n"
MIGRATED = (
    "m = client.promote_checkpoint(name=client.checkpoint_name(job, snap), output_model_id='out')\n"
)
UNSAFE = "m = client.promote_checkpoint(*args)\n"


def _run(*paths: Path, check: bool = False, diff: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    code = run(list(paths), check=check, diff=diff, out=out)
    return code, out.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_text(LEGACY)
    (tmp_path / "pkg" / "clean.py").write_text("print('nothing to do')\n")
    (tmp_path / "pkg" / "notes.txt").write_text(LEGACY)
    return tmp_path


def test_writes_in_place_and_reports(project: Path) -> None:
    code, report = _run(project)
    assert code == 0
    assert (project / "pkg" / "train.py").read_text() == MIGRATED
    assert (project / "pkg" / "notes.txt").read_text() == LEGACY  # not *.py
    train = project / "pkg" / "train.py"
    assert report.splitlines() == [
        f"{train}:1: promote_checkpoint: rewritten: name=client.checkpoint_name(job, snap)",
        "rewrote 1 call in 1 of 2 files; 0 left to migrate by hand",
    ]


def test_second_run_changes_nothing(project: Path) -> None:
    _run(project)
    code, report = _run(project)
    assert code == 0
    assert (project / "pkg" / "train.py").read_text() == MIGRATED
    assert report.splitlines() == ["rewrote 0 calls in 0 of 2 files; 0 left to migrate by hand"]


def test_check_changes_nothing_and_fails_on_legacy(project: Path) -> None:
    code, report = _run(project, check=True)
    assert code == 1
    assert (project / "pkg" / "train.py").read_text() == LEGACY
    assert "train.py:1: promote_checkpoint: legacy call, rewritable" in report
    assert report.splitlines()[-1] == "1 legacy call in 2 files"


def test_check_passes_once_migrated(project: Path) -> None:
    _run(project)
    assert _run(project, check=True) == (0, "0 legacy calls in 2 files\n")


def test_diff_prints_a_unified_diff_without_writing(project: Path) -> None:
    code, report = _run(project / "pkg" / "train.py", diff=True)
    assert code == 1
    assert (project / "pkg" / "train.py").read_text() == LEGACY
    path = (project / "pkg" / "train.py").as_posix()
    assert report.splitlines()[:5] == [
        f"--- {path}",
        f"+++ {path}",
        "@@ -1 +1 @@",
        f"-{LEGACY.rstrip()}",
        f"+{MIGRATED.rstrip()}",
    ]


def test_diff_marks_a_missing_final_newline(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text(LEGACY.rstrip("\n"))
    _, report = _run(target, diff=True)
    assert report.count("\\ No newline at end of file\n") == 2


def test_unsafe_calls_are_reported_with_file_and_line(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text(LEGACY + UNSAFE)
    code, report = _run(target)
    assert code == 1  # a legacy call is left
    assert target.read_text() == MIGRATED + UNSAFE
    assert (
        f"{target}:2: promote_checkpoint: legacy call not rewritten: "
        "cannot see which parameters *args passes"
    ) in report.splitlines()
    assert report.splitlines()[-1] == "rewrote 1 call in 1 of 1 file; 1 left to migrate by hand"


def test_check_counts_unsafe_calls(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text(UNSAFE)
    assert _run(target, check=True)[0] == 1


def test_notes_are_printed(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("client.promote_checkpoint(j, c, o, hot_load_deployment_id='d')\n")
    _, report = _run(target)
    # the TODO comment took lines 1-2: lines are those of the file as written
    assert f"{target}:3: note: hot_load_deployment_id kept, with a TODO" in report


def test_lines_refer_to_the_file_on_disk_afterwards(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("client.promote_checkpoint(j, c, o, hot_load_deployment_id='d')\n" + UNSAFE)
    check_report = _run(target, check=True)[1]
    assert f"{target}:2: promote_checkpoint: legacy call not rewritten" in check_report
    write_report = _run(target)[1]
    assert f"{target}:4: promote_checkpoint: legacy call not rewritten" in write_report
    assert target.read_text().splitlines()[3] == UNSAFE.rstrip()


def test_parse_error_exits_2_and_other_files_are_still_migrated(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def broken(:\n")
    (tmp_path / "good.py").write_text(LEGACY)
    code, report = _run(tmp_path)
    assert code == 2
    assert (tmp_path / "good.py").read_text() == MIGRATED
    assert f"{tmp_path / 'bad.py'}: error: cannot parse: line 1" in report
    assert report.splitlines()[-1] == "1 file could not be read or parsed"


def test_undecodable_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9'\n")  # not UTF-8, no coding line
    code, report = _run(tmp_path)
    assert code == 2
    assert f"{tmp_path / 'latin.py'}: error: cannot read:" in report


def test_symlinked_directories_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(LEGACY)
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg")
    assert _run(tmp_path, check=True) == (
        1,
        f"{tmp_path / 'pkg' / 'a.py'}:1: promote_checkpoint: "
        "legacy call, rewritable: name=client.checkpoint_name(job, snap)\n"
        "1 legacy call in 1 file\n",
    )


def test_unwritable_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.py"
    target.write_text(LEGACY)

    def refuse(self: Path, data: bytes) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    code, report = _run(target)
    assert code == 2
    assert f"{target}: error: cannot write: [Errno 13] Permission denied" in report
    assert target.read_text() == LEGACY


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, report = _run(tmp_path / "nope.py")
    assert code == 2
    assert report.startswith("error: no such file or directory:")


def test_no_paths_exits_2() -> None:
    assert _run()[0] == 2


def test_hidden_cache_and_virtualenv_directories_are_skipped(tmp_path: Path) -> None:
    for directory in (".git", "__pycache__", "env"):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / "x.py").write_text(LEGACY)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    code, report = _run(tmp_path, check=True)
    assert (code, report) == (0, "0 legacy calls in 0 files\n")


def test_a_file_named_explicitly_is_processed_whatever_its_suffix(tmp_path: Path) -> None:
    script = tmp_path / "promote"
    script.write_text(LEGACY)
    assert _run(script)[0] == 0
    assert script.read_text() == MIGRATED


def test_encoding_and_newlines_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    source = "# -*- coding: latin-1 -*-\r\n# café\r\n" + LEGACY.replace("\n", "\r\n")
    target.write_bytes(source.encode("latin-1"))
    _run(target)
    expected = "# -*- coding: latin-1 -*-\r\n# café\r\n" + MIGRATED.replace("\n", "\r\n")
    assert target.read_bytes() == expected.encode("latin-1")


def test_a_file_is_listed_once(project: Path) -> None:
    code, report = _run(project, project / "pkg" / "train.py", check=True)
    assert code == 1
    assert report.splitlines()[-1] == "1 legacy call in 2 files"


def test_command_line_wiring(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="fireworks-training migrate")
    add_arguments(parser)
    args = parser.parse_args(["--check", "--diff", str(project)])
    assert main_from_args(args) == 1
    assert "\n+m = client.promote_checkpoint(name=" in capsys.readouterr().out
    assert main_from_args(parser.parse_args([str(project)])) == 0
    assert (project / "pkg" / "train.py").read_text() == MIGRATED
    with pytest.raises(SystemExit):
        parser.parse_args(["--check"])  # PATH is required
