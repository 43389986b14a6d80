"""Legacy snippets and their rewrites, run against the emulator with the real clients.

The original warns (at the snippet's own line); the rewrite runs with warnings as errors and
promotes the same checkpoint (the model's ``sourceCheckpoint``).
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.emulator import Emulator
from fireworks_training.migrate import migrate_source

BASE_MODEL = "accounts/fireworks/models/tiny-bigram"
SNIPPETS = {
    "positional": "model = client.promote_checkpoint(job, snapshot, out, base)\n",
    "keywords_multiline_with_comments": """\
        model = client.promote_checkpoint(
            output_model_id=out,  # where it goes
            # from save_weights_for_sampler_ext
            checkpoint_id=snapshot,
            job_id=job,
            timeout=120,
        )
        """,
    "three_args_in_a_function": """\
        def promote(c, job_id):
            return c.promote_checkpoint(job_id, snapshot, out)

        model = promote(client, job)
        """,
    "aliased_receiver_in_a_class": """\
        class Pipeline:
            def __init__(self, fw):
                self.fw = fw

            def finish(self):
                return self.fw.promote_checkpoint(job, checkpoint_id=snapshot, output_model_id=out)

        model = Pipeline(client).finish()
        """,
    "row_name_split": """\
        row = client.list_checkpoints(job)[index]
        model = client.promote_checkpoint(job, row["name"].split("/")[-1], out, base)
        """,
    "begin_promote": "model = client.begin_promote_checkpoint(job, snapshot, out).result(60)\n",
    "async_client": """\
        import asyncio

        async def main():
            async with make_async_client() as aclient:
                return await aclient.promote_checkpoint(job, snapshot, out, base_model=base)

        model = asyncio.run(main())
        """,
}


@dataclass(frozen=True)
class Job:
    emulator: Emulator
    job_id: str
    rows: list[str]
    index: int

    @property
    def target(self) -> str:
        return self.rows[self.index]


@pytest.fixture(scope="module")
def job() -> Iterator[Job]:
    with Emulator(long_poll_seconds=1.0) as emulator:
        job_id = emulator.create_trainer_job(base_model=BASE_MODEL)
        rows = emulator.add_checkpoint_rows(job_id, 6)
        with _client(emulator) as client:
            promotable = [row.name for row in client.list_checkpoints(job_id) if row.promotable]
        yield Job(emulator, job_id, rows, rows.index(promotable[-1]))


def _client(emulator: Emulator) -> FireworksClient:
    return FireworksClient(api_key=emulator.api_key, base_url=emulator.base_url)


def _run(source: str, job: Job, out: str, filename: str) -> Any:
    with _client(job.emulator) as client:
        namespace: dict[str, Any] = {
            "client": client,
            "make_async_client": lambda: AsyncFireworksClient(
                api_key=job.emulator.api_key, base_url=job.emulator.base_url
            ),
            "job": job.job_id,
            "snapshot": job.target.rsplit("/", 1)[-1],
            "index": job.index,
            "out": out,
            "base": BASE_MODEL,
        }
        exec(compile(source, filename, "exec"), namespace)
        return namespace["model"]


@pytest.mark.parametrize("snippet_id", sorted(SNIPPETS))
def test_rewrite_promotes_the_same_checkpoint_without_warnings(snippet_id: str, job: Job) -> None:
    original = textwrap.dedent(SNIPPETS[snippet_id])
    rewritten = migrate_source(original)
    assert len(rewritten.changes) == 1
    assert rewritten.unsafe == []
    slug = snippet_id.replace("_", "-")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = _run(original, job, f"before-{slug}", "<original>")
    assert [str(w.message).split("(")[0] for w in caught] == [rewritten.changes[0].method]
    assert [(w.category, w.filename) for w in caught] == [(DeprecationWarning, "<original>")]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = _run(rewritten.code, job, f"after-{slug}", "<rewritten>")

    assert before["sourceCheckpoint"] == after["sourceCheckpoint"] == job.target
    assert after.name.endswith(f"/models/after-{slug}")


def test_hot_load_keeps_only_its_own_warning(job: Job) -> None:
    original = "model = client.promote_checkpoint(job, snapshot, out, hot_load_deployment_id='d')\n"
    rewritten = migrate_source(original).code
    assert "# TODO(fireworks-training)" in rewritten
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _run(rewritten, job, "after-hot-load", "<rewritten>")
    assert [str(w.message).split(" is deprecated")[0] for w in caught] == [
        "promote_checkpoint(hot_load_deployment_id=...)"
    ]
    assert model["sourceCheckpoint"] == job.target
