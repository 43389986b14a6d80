"""The cookbooks' weight-sync call forms, as written there, against the emulator.

The checklist of cookbook call forms (sampling, deployments, weight sync): the official
import paths, keyword forms, attribute reads and assignments a drop-in must accept.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import sys
import warnings

import pytest
import tinker

from fireworks_training.emulator import Emulator

from .conftest import BASE_MODEL, attached


def test_the_official_module_paths_resolve() -> None:
    from fireworks_training.deployment import (
        DEFAULT_CHECKSUM_FORMAT,
        DEFAULT_DELTA_COMPRESSION,
        DeploymentConfig,
        DeploymentInfo,
        DeploymentManager,
        DeploymentSampler,
        FiretitanSamplingClient,
        SampledCompletion,
    )
    from fireworks_training.sampling import DeploymentSampler as SamplingDeploymentSampler
    from fireworks_training.weight_syncer import WeightSyncer

    assert (DEFAULT_DELTA_COMPRESSION, DEFAULT_CHECKSUM_FORMAT) == ("arc_v2", "alder32")
    assert SamplingDeploymentSampler is DeploymentSampler
    for name in (DeploymentConfig, DeploymentInfo, DeploymentManager, SampledCompletion):
        assert name.__name__
    assert FiretitanSamplingClient.__name__ == "FiretitanSamplingClient"
    assert WeightSyncer.__name__ == "WeightSyncer"


def test_deployments_do_not_load_tinker() -> None:
    script = (
        "import sys, json\nfrom fireworks_training import DeploymentManager, DeploymentConfig\n"
        "import fireworks_training.deployment\nprint(json.dumps('tinker' in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert json.loads(done.stdout) is False, done.stderr


def test_deployment_config_as_the_cookbook_builds_it() -> None:
    from fireworks_training.deployment import DeploymentConfig

    config = DeploymentConfig(
        deployment_id="teacher",
        base_model=BASE_MODEL,
        region=None,
        deployment_shape="accounts/fireworks/deploymentShapes/x/versions/1",
        hot_load_bucket_type=None,
        hot_load_trainer_job=None,
        hot_load_transition_type=None,
        enable_hot_load=False,
        skip_shape_validation=False,
        extra_args=None,
        min_replica_count=2,
        max_replica_count=2,
        accelerator_type=None,
        disable_speculative_decoding=True,
        extra_values=None,
        preemptible=False,
        for_training=True,
    )
    assert isinstance(config, DeploymentConfig)
    config.validate()
    body = config.create_body("acct")
    assert "hotLoadBucketType" not in body
    assert "acceleratorType" not in body
    assert (body["enableHotLoad"], body["forTraining"]) == (False, True)


def test_deployment_manager_as_the_cookbook_drives_it(emu: Emulator) -> None:
    from fireworks_training.deployment import DeploymentConfig, DeploymentManager

    job = emu.create_trainer_job()
    deploy_mgr = DeploymentManager(api_key=emu.api_key, base_url=emu.base_url)
    cfg = DeploymentConfig(
        deployment_id="my-sampler", base_model=BASE_MODEL, hot_load_trainer_job=job
    )
    info = deploy_mgr.create_or_get(cfg)
    assert info.state in ("READY", "UPDATING", "CREATING")
    info = deploy_mgr.wait_for_ready(info.deployment_id, timeout_s=60)
    info.inference_model = f"accounts/{deploy_mgr.account_id}/deployments/{info.deployment_id}"
    assert info.inference_model == f"accounts/{emu.account_id}/deployments/my-sampler"
    resp = deploy_mgr._get(
        f"/v1/accounts/{deploy_mgr.account_id}/deployments/my-sampler", timeout=30
    )
    assert resp.is_success
    assert resp.json()["name"].endswith("/my-sampler")
    assert deploy_mgr.warmup(info.inference_model, max_retries=30) is True
    deploy_mgr.scale_to_zero("my-sampler")
    deploy_mgr._delete_deployment("my-sampler")
    assert deploy_mgr.get("my-sampler") is None
    deploy_mgr.delete("my-sampler")  # gone already: fine
    deploy_mgr.close()


def test_sampling_client_call_forms(emu: Emulator) -> None:
    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        sc = rig.service.create_sampling_client(model_path=saved.path, tokenizer=None)
        prompt = tinker.ModelInput.from_ints(list(b"hello"))
        params = tinker.SamplingParams(max_tokens=6, temperature=0.7, stop=["\n"])
        fut = sc.sample(prompt=prompt, num_samples=2, sampling_params=params)
        assert isinstance(fut, concurrent.futures.Future)
        resp = fut.result(timeout=60) if hasattr(fut, "result") else fut
        assert len(resp.sequences[0].tokens) <= 6
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            scored = sc.compute_logprobs(prompt).result(timeout=60)
        assert scored[0] is None
        assert len(scored) == 5

        async def async_forms() -> tuple[tinker.SampleResponse, list[float | None]]:
            response = await sc.sample_async(prompt=prompt, num_samples=1, sampling_params=params)
            await sc.sample_async(prompt, 1, params)  # positional prompt
            return response, await sc.compute_logprobs_async(prompt)

        response, again = asyncio.run(async_forms())
        assert again == scored
        assert response.sequences
        assert sc.deployment_sampler.model == f"accounts/{emu.account_id}/deployments/dep"
        sc.close()


def test_deployment_sampler_call_forms(emu: Emulator) -> None:
    from fireworks_training.deployment import DeploymentSampler

    with attached(emu) as rig:
        saved = rig.trainer.save_weights_for_sampler("step-0").result()
        rig.service.hotload_sampler_snapshot(saved.path)

        class Bytes:
            def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
                return bytes(ids).decode("latin-1")

        sampler = DeploymentSampler(
            inference_url=rig.manager.inference_url,
            model=f"accounts/{emu.account_id}/deployments/dep",
            api_key=emu.api_key,
            tokenizer=None,
            concurrency_controller=None,
        )
        sampler.tokenizer = Bytes()  # the cookbook assigns it later

        async def rollout() -> list[object]:
            try:
                return list(
                    await sampler.sample_with_prompt_tokens(
                        list(b"the quick"), n=2, stop=[10], max_tokens=5, temperature=1.0,
                        logprobs=True, echo=True,
                    )
                )  # fmt: skip
            finally:
                await sampler.close()

        completions = asyncio.run(rollout())
        assert len(completions) == 2
        first = completions[0]
        assert first.prompt_len == len(b"the quick")  # type: ignore[attr-defined]
        assert first.logprobs_echoed  # type: ignore[attr-defined]
        assert len(first.inference_logprobs) == len(first.full_tokens) - 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("checkpoint_type", ["base", None])
def test_weight_syncer_keyword_form(emu: Emulator, checkpoint_type: str | None) -> None:
    from fireworks_training.weight_syncer import WeightSyncer

    with attached(emu) as rig:
        weight_syncer = WeightSyncer(
            policy_client=rig.trainer,
            deploy_mgr=rig.manager,
            deployment_id=rig.deployment_id,
            base_model=BASE_MODEL,
            hotload_timeout=600,
            first_checkpoint_type="base",
            lora_rank=0,
        )
        weight_syncer.save_and_hotload("step-0", checkpoint_type="base")
        rig.train(1)
        weight_syncer.save_and_hotload("step-1", checkpoint_type=checkpoint_type)
        assert [kind for _, kind, _ in rig.ledger()] == [
            "full",
            "full" if checkpoint_type == "base" else "delta",
        ]
