"""Every corpus case with a rewrite, before and after the codemod, against one emulator.

The original warns (``DeprecationWarning`` at its own lines); the rewrite runs with warnings
as errors, except the hot-load warning where that argument is kept. Both must send the same
``:promote`` requests (output ids aside, which are unique per run) and make models of the same
``sourceCheckpoint``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.emulator import Emulator
from fireworks_training.migrate import migrate_source

from .corpus import CASES, Case

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
LEGACY = r"\w+\(job_id, checkpoint_id, \.\.\.\) is deprecated"
HOT_LOAD = r"\w+\(hot_load_deployment_id=\.\.\.\) is deprecated"
# Output ids written as literals in the corpus; each run appends its tag to them.
LITERAL_OUTPUTS = ('"my-model"', '"final"', 'f"out-{i}"')
RUNNABLE = [case for case in CASES if case.rewritten]
_RUNS = itertools.count()


@dataclass(frozen=True)
class Job:
    emulator: Emulator
    client: FireworksClient  # one for the module: each new one costs an SSL context
    job_id: str
    snapshot: str  # the newest row, promotable
    snapshot2: str  # another promotable row
    promotable: frozenset[str]  # their 4-segment names


@dataclass(frozen=True)
class Run:
    promotions: list[tuple[str, dict[str, Any]]]  # path and body, run tag removed
    sources: list[str]  # sourceCheckpoint of each model made
    trace: list[str]  # impure arguments, in the order they were evaluated


@pytest.fixture(scope="module")
def job() -> Iterator[Job]:
    with (
        Emulator() as emulator,  # sync promotion: the model comes back at once
        FireworksClient(api_key=emulator.api_key, base_url=emulator.base_url) as client,
    ):
        job_id = emulator.create_trainer_job(base_model=BASE_MODEL)
        emulator.add_checkpoint_rows(job_id, 5)
        rows = client.list_checkpoints(job_id)
        promotable = [row for row in rows if row.promotable]
        assert len(promotable) == 2
        assert rows[-1].promotable  # row_name_split promotes list_checkpoints(job_id)[-1]
        yield Job(
            emulator,
            client,
            job_id,
            promotable[-1].checkpoint_id,
            promotable[0].checkpoint_id,
            frozenset(row.name for row in promotable),
        )


def _namespace(job: Job, tag: str, trace: list[str]) -> dict[str, Any]:
    """The corpus's free names, bound to a real client, job and checkpoints."""

    def make_job() -> str:
        trace.append("make_job")
        return job.job_id

    def next_snapshot() -> str:
        trace.append("next_snapshot")
        return job.snapshot

    def make_async_client() -> AsyncFireworksClient:
        return AsyncFireworksClient(api_key=job.emulator.api_key, base_url=job.emulator.base_url)

    client = job.client
    out, out2 = f"out-{tag}", f"out2-{tag}"
    return {
        "__name__": "corpus_case",
        "asyncio": asyncio,
        "client": client,
        "other": client,
        "clients": {"prod": client},
        "self": SimpleNamespace(clients=SimpleNamespace(prod=client)),
        "make_async_client": make_async_client,
        "job_id": job.job_id,
        "j": job.job_id,
        "endpoint": SimpleNamespace(job_id=job.job_id),
        "make_job": make_job,
        "snapshot": job.snapshot,
        "c": job.snapshot,
        "c2": job.snapshot2,
        "snaps": [job.snapshot, job.snapshot2],
        "result": SimpleNamespace(snapshot_name=job.snapshot),
        "row": {"name": job.snapshot},  # a row whose "name" was the short id
        "next_snapshot": next_snapshot,
        "out": out,
        "o": out,
        "out2": out2,
        "o2": out2,
        "base": BASE_MODEL,
        "BASE": BASE_MODEL,
        "d": "dep-1",
        "dep": "dep-1",
        "deployment_id": "dep-1",
    }


def _execute(source: str, job: Job, filename: str) -> Run:
    tag = f"run{next(_RUNS)}"
    for literal in LITERAL_OUTPUTS:
        source = source.replace(literal, f'{literal[:-1]}-{tag}"')
    log = job.emulator.request_log
    start = len(log)
    trace: list[str] = []
    exec(compile(source, filename, "exec"), _namespace(job, tag, trace))
    sent = [r for r in log[start:] if r.method == "POST" and r.route.endswith(":promote")]
    sources = [job.client.get_model(r.body["output_model"])["sourceCheckpoint"] for r in sent]
    promotions = [
        (r.path, {**r.body, "output_model": r.body["output_model"].replace(f"-{tag}", "")})
        for r in sent
    ]
    return Run(promotions, sources, trace)


def _kinds(caught: list[warnings.WarningMessage]) -> list[str]:
    def kind(w: warnings.WarningMessage) -> str:
        message = str(w.message)
        for name, pattern in (("legacy", LEGACY), ("hot_load", HOT_LOAD)):
            if re.match(pattern, message) and w.category is DeprecationWarning:
                return name
        return f"{w.category.__name__}: {message}"

    return sorted(kind(w) for w in caught)


def test_every_rewritable_case_runs() -> None:
    assert len(RUNNABLE) >= 20
    assert all(case.driver == "" for case in CASES if not case.rewritten)


@pytest.mark.parametrize("case", RUNNABLE, ids=lambda case: case.id)
def test_rewrite_promotes_the_same_checkpoints_without_warnings(case: Case, job: Job) -> None:
    rewritten = migrate_source(case.before).code
    for literal in LITERAL_OUTPUTS:
        assert rewritten.count(literal) == case.before.count(literal)
    keeps_hot_load = "hot_load_deployment_id" in case.before

    with warnings.catch_warnings(record=True) as before_warnings:
        warnings.simplefilter("always")
        before = _execute(case.before + case.driver, job, "<original>")

    with warnings.catch_warnings(record=True) as after_warnings:
        warnings.simplefilter("error")
        if keeps_hot_load:
            warnings.filterwarnings("always", HOT_LOAD, DeprecationWarning)
        after = _execute(rewritten + case.driver, job, "<rewritten>")

    assert len(before.promotions) >= case.rewritten
    assert after.promotions == before.promotions
    assert after.sources == before.sources
    assert set(before.sources) <= job.promotable
    assert after.trace == before.trace

    hot_loads = sum("hot_load_deployment_id" in body for _, body in before.promotions)
    assert (hot_loads > 0) == keeps_hot_load
    legacy = ["legacy"] * len(before.promotions)
    assert _kinds(before_warnings) == sorted(legacy + ["hot_load"] * hot_loads)
    assert {w.filename for w in before_warnings} == {"<original>"}
    assert _kinds(after_warnings) == ["hot_load"] * hot_loads
