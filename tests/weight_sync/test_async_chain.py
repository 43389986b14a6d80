"""The async sources themselves: AsyncDeploymentManager and AsyncDeploymentChain end to end."""

from __future__ import annotations

import numpy as np
import pytest

from fireworks_training import AsyncDeploymentManager, DeploymentConfig, FiretitanServiceClient
from fireworks_training.checkpoints.kinds import SamplerCheckpointType as T
from fireworks_training.clients._async.weight_sync import AsyncDeploymentChain
from fireworks_training.clients._weight_sync_rules import SnapshotLog
from fireworks_training.demo import ADAM, make_batch
from fireworks_training.emulator import Emulator, blobs
from fireworks_training.errors import SnapshotChainError

from .conftest import BASE_MODEL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_async_chain_loads_a_base_then_a_delta(emu: Emulator) -> None:
    job = emu.create_trainer_job()
    async with AsyncDeploymentManager(emu.api_key, emu.base_url) as manager:
        config = DeploymentConfig(
            "async-dep", BASE_MODEL, min_replica_count=1, hot_load_trainer_job=job
        )
        await manager.create_or_get(config)
        await manager.wait_for_ready("async-dep", timeout_s=30, poll_interval_s=0.1)
        chain = AsyncDeploymentChain(manager, "async-dep", BASE_MODEL, hotload_timeout_s=30)
        log = SnapshotLog(0)
        with FiretitanServiceClient(emu.trainer_url(job), api_key=emu.api_key) as service:
            trainer = service.create_training_client(BASE_MODEL)
            for name, kind in (("b0", T.BASE), ("d1", T.DELTA)):
                if kind is T.DELTA:
                    assert await chain.next_type(None, lora_rank=0, log=log) is T.DELTA
                    trainer.forward_backward(make_batch(0), "cross_entropy").result()
                    trainer.optim_step(ADAM).result()
                saved = trainer.save_weights_for_sampler_ext(name, checkpoint_type=kind.value)
                log.plan(saved.snapshot_name, kind)
                await chain.sync(log.saved(saved.snapshot_name, saved.path))
            served = blobs.bf16_bits(emu.deployment_weights("async-dep"))
            assert np.array_equal(served, blobs.bf16_bits(emu.weights(job)))
            assert [e["type"] for e in emu.deployment_ledger("async-dep")] == ["full", "delta"]
            assert (await chain.state()).root == f"b0-{trainer.session_id}"
            await chain.sync(log.saved(saved.snapshot_name, saved.path))  # served: nothing sent
            assert len(emu.deployment_ledger("async-dep")) == 2
            await chain.reset()  # as after a re-attach: nothing is known any more
            saved = trainer.save_weights_for_sampler_ext("d2", checkpoint_type="delta")
            log.plan(saved.snapshot_name, T.DELTA)
            with pytest.raises(SnapshotChainError, match="no base loaded by this process"):
                await chain.sync(log.saved(saved.snapshot_name, saved.path))
