"""The corpus: exact output, what is reported, and that every output compiles and is stable."""

from __future__ import annotations

import pytest

from fireworks_training.migrate import MigrationResult, migrate_source

from .corpus import CASES, Case

LEGACY_CASES = [case for case in CASES if case.rewritten or case.unsafe_lines]


def test_the_corpus_is_big_enough() -> None:
    assert len(LEGACY_CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_exact_output(case: Case) -> None:
    assert migrate_source(case.before).code == case.expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_reported_calls(case: Case) -> None:
    result = migrate_source(case.before)
    assert len(result.changes) == case.rewritten
    assert tuple(call.line for call in result.unsafe) == case.unsafe_lines
    assert result.legacy_calls == case.rewritten + len(case.unsafe_lines)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_output_compiles(case: Case) -> None:
    compile(migrate_source(case.before).code, case.id, "exec")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_second_run_changes_nothing(case: Case) -> None:
    first = migrate_source(case.before)
    second = migrate_source(first.code)
    assert second.code == first.code
    assert second.changes == []
    assert [(u.line, u.reason) for u in second.unsafe] == [(u.line, u.reason) for u in first.unsafe]


def _only(result: MigrationResult) -> str:
    (call,) = result.unsafe
    return call.reason


def test_unsafe_reasons_say_what_to_do() -> None:
    assert "bind it to a variable" in _only(
        migrate_source("get_client().promote_checkpoint(j, c, o, b)\n")
    )
    assert "**options" in _only(migrate_source("client.promote_checkpoint(j, c, **options)\n"))
    assert "await" in _only(
        migrate_source("async def f():\n    return client.promote_checkpoint(j, c, o)\n")
    )


def test_changes_describe_the_new_name_and_notes() -> None:
    source = "m = client.promote_checkpoint(j, row['name'], o, hot_load_deployment_id=d)\n"
    (change,) = migrate_source(source).changes
    assert change.line == 1
    assert change.method == "promote_checkpoint"
    assert change.name == "client.checkpoint_name(j, row['name'])"
    assert [note.split(":")[0] for note in change.notes] == [
        "checkpoint_id was row['name']",
        "hot_load_deployment_id kept, with a TODO",
    ]


def test_line_numbers_point_at_the_call() -> None:
    source = (
        "import x\n\n\ndef f():\n    return (\n        client.promote_checkpoint(j, c, o)\n    )\n"
    )
    assert [change.line for change in migrate_source(source).changes] == [6]


def test_new_lines_count_the_added_todo_comments() -> None:
    source = (
        "a = client.promote_checkpoint(j, c, o, hot_load_deployment_id=d)\n"
        "b = client.promote_checkpoint(j, c, o)\n"
        "c = get_client().promote_checkpoint(j, c, o)\n"
    )
    result = migrate_source(source)
    assert [(c.line, c.new_line) for c in result.changes] == [(1, 3), (2, 4)]
    assert [(u.line, u.new_line) for u in result.unsafe] == [(3, 5)]


def test_crlf_newlines_are_kept() -> None:
    source = "m = client.promote_checkpoint(\r\n    j,\r\n    c,\r\n    o,\r\n)\r\n"
    assert migrate_source(source).code == (
        "m = client.promote_checkpoint(\r\n"
        "    name=client.checkpoint_name(j, c),\r\n"
        "    output_model_id=o,\r\n"
        ")\r\n"
    )


def test_invalid_source_raises() -> None:
    import libcst

    with pytest.raises(libcst.ParserSyntaxError):
        migrate_source("client.promote_checkpoint(j, c, o\n")
