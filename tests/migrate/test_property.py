"""Generated legacy calls: the rewrite compiles, is stable, and promotes the same checkpoint.

"The same checkpoint" is checked by running the source before and after against a recording
stand-in for the client, whose ``checkpoint_name`` and legacy path build the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fireworks_training.migrate import migrate_source

PARAMS = ("job_id", "checkpoint_id", "output_model_id", "base_model")
RECEIVERS = ("client", "self.fw", "clients['a']", "holder.inner.client")


@dataclass(frozen=True)
class Promotion:
    name: str
    output_model_id: Any
    base_model: Any
    hot_load_deployment_id: Any
    timeout: Any


class RecordingClient:
    """Records every promotion, resolved to its 4-segment name, and whether it was legacy."""

    def __init__(self) -> None:
        self.promotions: list[tuple[Promotion, bool]] = []

    def checkpoint_name(self, job_id: str, checkpoint_id: str) -> str:
        return f"accounts/acct/rlorTrainerJobs/{job_id}/checkpoints/{checkpoint_id}"

    def promote_checkpoint(
        self,
        job_id: str | None = None,
        checkpoint_id: str | None = None,
        output_model_id: str | None = None,
        base_model: str | None = None,
        *,
        name: str | None = None,
        hot_load_deployment_id: str | None = None,
        timeout: float | None = None,
    ) -> str:
        legacy = name is None
        if name is None:
            assert job_id is not None
            assert checkpoint_id is not None
            name = self.checkpoint_name(job_id, checkpoint_id)
        else:
            assert checkpoint_id is None
            assert job_id is None
        promotion = Promotion(name, output_model_id, base_model, hot_load_deployment_id, timeout)
        self.promotions.append((promotion, legacy))
        return name


def _run(source: str) -> list[tuple[Promotion, bool]]:
    client = RecordingClient()
    namespace: dict[str, Any] = {
        "client": client,
        "self": SimpleNamespace(fw=client),
        "clients": {"a": client},
        "holder": SimpleNamespace(inner=SimpleNamespace(client=client)),
        "j": "job-1",
        "row": {"name": "accounts/acct/rlorTrainerJobs/job-1/checkpoints/snap-7"},
    }
    exec(compile(source, "<snippet>", "exec"), namespace)
    return client.promotions


@st.composite
def legacy_calls(draw: st.DrawFn) -> str:
    receiver = draw(st.sampled_from(RECEIVERS))
    from_row = draw(st.booleans())
    # A row's name is only cut up for the job the row was listed from.
    jobs = ["j", "'job-1'", "f'job-{1}'"] if from_row else ["j", "'job-2'", "f'job-{3}'"]
    values = {
        "job_id": draw(st.sampled_from(jobs)),
        "checkpoint_id": "row['name'].split('/')[-1]" if from_row else "'snap-1'",
        "output_model_id": "'out-1'",
        "base_model": "'accounts/fireworks/models/qwen3-8b'",
    }
    params = list(PARAMS if draw(st.booleans()) else PARAMS[:3])
    positional = draw(st.integers(0, len(params)))
    keywords = draw(st.permutations(params[positional:]))
    args = [values[p] for p in params[:positional]] + [f"{p}={values[p]}" for p in keywords]
    if draw(st.booleans()):
        args.append("timeout=30")
    if draw(st.booleans()):
        args.insert(draw(st.integers(positional, len(args))), "hot_load_deployment_id='dep-1'")
    return _layout(draw, f"{receiver}.promote_checkpoint", args)


def _layout(draw: st.DrawFn, func: str, args: list[str]) -> str:
    if not draw(st.booleans()):
        return f"result = {func}({', '.join(args)})\n"
    lines = []
    for index, arg in enumerate(args):
        last = index == len(args) - 1
        comma = "" if last and not draw(st.booleans()) else ","
        comment = "  # note" if draw(st.booleans()) else ""
        lines.append(f"    {arg}{comma}{comment}\n")
    body = f"result = {func}(\n{''.join(lines)})\n"
    if draw(st.booleans()):
        indented = "".join(f"    {line}" for line in body.splitlines(keepends=True))
        return f"def promote():\n{indented}    return result\n\n\nresult = promote()\n"
    return body


@given(legacy_calls())
def test_rewrite_compiles_and_is_stable(source: str) -> None:
    first = migrate_source(source)
    assert len(first.changes) == 1
    assert first.unsafe == []
    compile(first.code, "<migrated>", "exec")
    second = migrate_source(first.code)
    assert second.code == first.code
    assert second.changes == []
    assert second.unsafe == []


@given(legacy_calls())
def test_rewrite_promotes_the_same_checkpoint(source: str) -> None:
    before = _run(source)
    after = _run(migrate_source(source).code)
    assert [promotion for promotion, _ in after] == [promotion for promotion, _ in before]
    assert [legacy for _, legacy in before] == [True]
    assert [legacy for _, legacy in after] == [False]


@given(legacy_calls())
def test_comments_survive(source: str) -> None:
    migrated = migrate_source(source).code
    assert migrated.count("# note") == source.count("# note")
