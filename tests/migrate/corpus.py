# ruff: noqa: E501  (snippets are source text whose exact lines are the point)
"""Legacy promote calls and their exact migrations, each expected output reviewed line by line.

Each case: the source before, the source after, how many calls are rewritten and the lines
of the calls reported as unsafe. ``after is None`` means the source is left unchanged.

Every case with a rewrite also runs against the emulator (``test_migrate_e2e.py``), in a
namespace binding its free names (``client``, ``job_id``, ``snapshot``, ``out``, ...);
``driver`` is code run after the snippet to call what it defines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    id: str
    before: str
    after: str | None
    rewritten: int = 0
    unsafe_lines: tuple[int, ...] = ()
    driver: str = ""

    @property
    def expected(self) -> str:
        return self.before if self.after is None else self.after


CASES = [
    Case(
        "positional",
        """\
model = client.promote_checkpoint(job_id, snapshot, "my-model", "accounts/fireworks/models/qwen3-8b")
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id="my-model", base_model="accounts/fireworks/models/qwen3-8b")
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "positional_three_args",
        """\
model = client.promote_checkpoint(job_id, snapshot, "my-model")
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id="my-model")
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "keywords_in_order",
        """\
model = client.promote_checkpoint(job_id=job_id, checkpoint_id=snapshot, output_model_id=out, base_model=base)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "keywords_shuffled",
        """\
model = client.promote_checkpoint(base_model=base, checkpoint_id=snapshot, output_model_id=out, job_id=job_id)
""",
        """\
model = client.promote_checkpoint(base_model=base, name=client.checkpoint_name(job_id, snapshot), output_model_id=out)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "mixed_two_positional",
        """\
model = client.promote_checkpoint(job_id, snapshot, base_model=base, output_model_id=out)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), base_model=base, output_model_id=out)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "mixed_with_timeout",
        """\
model = client.promote_checkpoint(job_id, snapshot, out, base_model=base, timeout=600)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base, timeout=600)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "nested_in_call",
        """\
print(client.promote_checkpoint(job_id, snapshot, out, base).name)
""",
        """\
print(client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base).name)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "nested_in_function",
        '''\
def promote(client, job_id, snapshot):
    """Promote one snapshot."""
    return client.promote_checkpoint(job_id, snapshot, "final", BASE)
''',
        '''\
def promote(client, job_id, snapshot):
    """Promote one snapshot."""
    return client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id="final", base_model=BASE)
''',
        rewritten=1,
        unsafe_lines=(),
        driver="model = promote(client, job_id, snapshot)\n",
    ),
    Case(
        "nested_in_class_self_attribute",
        """\
class Trainer:
    def finish(self, snapshot):
        if self.promote:
            return self.fw.promote_checkpoint(self.job_id, snapshot, self.out, self.base)
        return None
""",
        """\
class Trainer:
    def finish(self, snapshot):
        if self.promote:
            return self.fw.promote_checkpoint(name=self.fw.checkpoint_name(self.job_id, snapshot), output_model_id=self.out, base_model=self.base)
        return None
""",
        rewritten=1,
        unsafe_lines=(),
        driver="""\
trainer = Trainer()
trainer.promote, trainer.fw, trainer.job_id, trainer.out, trainer.base = True, client, job_id, out, base
model = trainer.finish(snapshot)
""",
    ),
    Case(
        "aliased_receiver",
        """\
c = client
model = c.promote_checkpoint(job_id, snapshot, out, base)
""",
        """\
c = client
model = c.promote_checkpoint(name=c.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "receiver_chain_and_subscript",
        """\
a = self.clients.prod.promote_checkpoint(job_id, snapshot, out, base)
b = clients["prod"].promote_checkpoint(job_id, snapshot, out2, base)
""",
        """\
a = self.clients.prod.promote_checkpoint(name=self.clients.prod.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
b = clients["prod"].promote_checkpoint(name=clients["prod"].checkpoint_name(job_id, snapshot), output_model_id=out2, base_model=base)
""",
        rewritten=2,
        unsafe_lines=(),
    ),
    Case(
        "multiline_positional_trailing_comma",
        """\
model = client.promote_checkpoint(
    job_id,
    snapshot,
    "my-model",
    "accounts/fireworks/models/qwen3-8b",
)
""",
        """\
model = client.promote_checkpoint(
    name=client.checkpoint_name(job_id, snapshot),
    output_model_id="my-model",
    base_model="accounts/fireworks/models/qwen3-8b",
)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "multiline_keywords_with_comments",
        """\
model = client.promote_checkpoint(
    # the trainer that wrote it
    job_id=endpoint.job_id,  # not the deployment
    # what save_weights_for_sampler_ext returned
    checkpoint_id=result.snapshot_name,  # short id
    output_model_id="my-model",
    base_model=BASE,  # metadata comes from here
)
""",
        """\
model = client.promote_checkpoint(
    # the trainer that wrote it
    name=client.checkpoint_name(endpoint.job_id, result.snapshot_name),  # not the deployment
    # what save_weights_for_sampler_ext returned
    # short id
    output_model_id="my-model",
    base_model=BASE,  # metadata comes from here
)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "multiline_no_trailing_comma",
        """\
model = client.promote_checkpoint(
    output_model_id=out,
    job_id=job_id,
    checkpoint_id=snapshot  # last one
)
""",
        """\
model = client.promote_checkpoint(
    output_model_id=out,
    name=client.checkpoint_name(job_id, snapshot)
    # last one
)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "comment_between_job_and_checkpoint",
        """\
model = client.promote_checkpoint(job_id,  # job
                                   # checkpoint below
                                   snapshot, out, base)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot),  # job
                                   # checkpoint below
                                   output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "parenthesised_chain",
        """\
model = (
    client
    .promote_checkpoint(job_id, snapshot, out, base)
)
""",
        """\
model = (
    client
    .promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "star_args",
        """\
model = client.promote_checkpoint(*args)
""",
        None,
        rewritten=0,
        unsafe_lines=(1,),
    ),
    Case(
        "double_star_kwargs",
        """\
model = client.promote_checkpoint(job_id, snapshot, **options)
""",
        None,
        rewritten=0,
        unsafe_lines=(1,),
    ),
    Case(
        "hot_load_single_line",
        """\
def promote():
    model = client.promote_checkpoint(job_id, snapshot, out, base, hot_load_deployment_id="dep-1")
    return model
""",
        """\
def promote():
    # TODO(fireworks-training): remove hot_load_deployment_id unless the deployment predates
    # stored bucket URLs (cookbook >= 0.3.0 resolves it; the argument goes away in 1.0.0).
    model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base, hot_load_deployment_id="dep-1")
    return model
""",
        rewritten=1,
        unsafe_lines=(),
        driver="model = promote()\n",
    ),
    Case(
        "hot_load_multiline",
        """\
model = client.promote_checkpoint(
    job_id,
    snapshot,
    out,
    hot_load_deployment_id=deployment_id,
    timeout=60,
)
""",
        """\
model = client.promote_checkpoint(
    name=client.checkpoint_name(job_id, snapshot),
    output_model_id=out,
    # TODO(fireworks-training): remove hot_load_deployment_id unless the deployment predates
    # stored bucket URLs (cookbook >= 0.3.0 resolves it; the argument goes away in 1.0.0).
    hot_load_deployment_id=deployment_id,
    timeout=60,
)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "hot_load_in_if_header",
        """\
if client.promote_checkpoint(job_id, snapshot, out, hot_load_deployment_id=dep):
    pass
""",
        """\
# TODO(fireworks-training): remove hot_load_deployment_id unless the deployment predates
# stored bucket URLs (cookbook >= 0.3.0 resolves it; the argument goes away in 1.0.0).
if client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, hot_load_deployment_id=dep):
    pass
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "already_migrated",
        """\
model = client.promote_checkpoint(name=row["name"], output_model_id=out, base_model=base)
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out)
""",
        None,
        rewritten=0,
        unsafe_lines=(),
    ),
    Case(
        "unrelated_too_few_args",
        """\
registry.promote_checkpoint(checkpoint)
stage.promote_checkpoint(job_id, checkpoint)
mlflow.promote_checkpoint(checkpoint, to="production")
""",
        None,
        rewritten=0,
        unsafe_lines=(),
    ),
    Case(
        "unrelated_too_many_args",
        """\
legacy_tool.promote_checkpoint(a, b, c, d, e)
""",
        None,
        rewritten=0,
        unsafe_lines=(),
    ),
    Case(
        "bare_function",
        """\
promote_checkpoint(job_id, snapshot, out, base)
""",
        None,
        rewritten=0,
        unsafe_lines=(),
    ),
    Case(
        "call_receiver_unsafe",
        """\
model = get_client().promote_checkpoint(job_id, snapshot, out, base)
""",
        None,
        rewritten=0,
        unsafe_lines=(1,),
    ),
    Case(
        "begin_promote_checkpoint",
        """\
operation = client.begin_promote_checkpoint(job_id, snapshot, out, base)
model = operation.result(timeout=60)
""",
        """\
operation = client.begin_promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
model = operation.result(timeout=60)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "await_async_client",
        """\
async def promote(client):
    return await client.promote_checkpoint(job_id, snapshot, out, base)
""",
        """\
async def promote(client):
    return await client.promote_checkpoint(name=await client.checkpoint_name(job_id, snapshot), output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
        driver="""\
async def main():
    async with make_async_client() as async_client:
        return await promote(async_client)

model = asyncio.run(main())
""",
    ),
    Case(
        "async_not_awaited",
        """\
async def promote(client):
    pending = client.promote_checkpoint(job_id, snapshot, out, base)
    return await pending
""",
        None,
        rewritten=0,
        unsafe_lines=(2,),
    ),
    Case(
        "handed_to_asyncio",
        """\
model = asyncio.run(client.promote_checkpoint(job_id, snapshot, out, base))
""",
        None,
        rewritten=0,
        unsafe_lines=(1,),
    ),
    Case(
        "row_name_split",
        """\
row = client.list_checkpoints(job_id)[-1]
model = client.promote_checkpoint(job_id, row["name"].split("/")[-1], out, base)
""",
        """\
row = client.list_checkpoints(job_id)[-1]
model = client.promote_checkpoint(name=row["name"], output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "row_name_as_checkpoint_id",
        """\
model = client.promote_checkpoint(job_id, row["name"], out, base)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(job_id, row["name"]), output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "impure_arguments_in_order",
        """\
model = client.promote_checkpoint(make_job(), next_snapshot(), out, base)
""",
        """\
model = client.promote_checkpoint(name=client.checkpoint_name(make_job(), next_snapshot()), output_model_id=out, base_model=base)
""",
        rewritten=1,
        unsafe_lines=(),
    ),
    Case(
        "impure_arguments_reordered",
        """\
model = client.promote_checkpoint(checkpoint_id=next_snapshot(), output_model_id=out, job_id=make_job())
""",
        None,
        rewritten=0,
        unsafe_lines=(1,),
    ),
    Case(
        "ignore_marker",
        """\
model = client.promote_checkpoint(job_id, snapshot, out, base)  # fireworks-training: ignore
""",
        None,
        rewritten=0,
        unsafe_lines=(),
    ),
    Case(
        "lambda_and_comprehension",
        """\
promote = lambda s: client.promote_checkpoint(job_id, s, out, base)
models = [client.promote_checkpoint(job_id, s, f"out-{i}", base) for i, s in enumerate(snaps)]
""",
        """\
promote = lambda s: client.promote_checkpoint(name=client.checkpoint_name(job_id, s), output_model_id=out, base_model=base)
models = [client.promote_checkpoint(name=client.checkpoint_name(job_id, s), output_model_id=f"out-{i}", base_model=base) for i, s in enumerate(snaps)]
""",
        rewritten=2,
        unsafe_lines=(),
        driver="model = promote(snapshot)\n",
    ),
    Case(
        "two_hot_load_calls_one_statement",
        """\
pair = (client.promote_checkpoint(j, c, o, hot_load_deployment_id=d), client.promote_checkpoint(j, c2, o2, hot_load_deployment_id=d))
""",
        """\
# TODO(fireworks-training): remove hot_load_deployment_id unless the deployment predates
# stored bucket URLs (cookbook >= 0.3.0 resolves it; the argument goes away in 1.0.0).
pair = (client.promote_checkpoint(name=client.checkpoint_name(j, c), output_model_id=o, hot_load_deployment_id=d), client.promote_checkpoint(name=client.checkpoint_name(j, c2), output_model_id=o2, hot_load_deployment_id=d))
""",
        rewritten=2,
        unsafe_lines=(),
    ),
    Case(
        "nested_legacy_call_in_argument",
        """\
m = client.promote_checkpoint(job_id, snapshot, output_model_id=other.promote_checkpoint(j, c, o).model_id + "-copy")
""",
        """\
m = client.promote_checkpoint(name=client.checkpoint_name(job_id, snapshot), output_model_id=other.promote_checkpoint(name=other.checkpoint_name(j, c), output_model_id=o).model_id + "-copy")
""",
        rewritten=2,
        unsafe_lines=(),
    ),
]
