"""The official ``fireworks-ai`` client reads shapes and base models from the emulator unchanged.

Its ``resolve_training_profile`` (latest validated and a named version) and ``model_is_moe``
answer what ours answer on the same emulator. It runs in its own cached virtualenv
(``benchmarks/official.py``).
"""

from __future__ import annotations

import dataclasses

import pytest
from benchmarks.official import official_client

from fireworks_training import FireworksClient
from fireworks_training.emulator import Emulator
from fireworks_training.emulator.catalog import BaseModelSpec

from .kit import BASE_MODEL

SHAPE = "accounts/fireworks/trainingShapes/ts-tiny-bigram-policy"
MOE_MODEL = "accounts/fireworks/models/tiny-moe"
FIELDS = [
    "training_shape_version",
    "trainer_image_tag",
    "max_supported_context_length",
    "node_count",
    "deployment_shape_version",
    "deployment_image_tag",
    "accelerator_type",
    "accelerator_count",
    "base_model_weight_precision",
    "pipeline_parallelism",
    "trainer_mode",
]

DRIVER = """
import json, sys
from fireworks.training.sdk import FireworksClient

base_url, key, shape, dense, moe = sys.argv[1:6]
fields = sys.argv[6:]
client = FireworksClient(api_key=key, base_url=base_url)
profiles = [client.resolve_training_profile(name) for name in (shape, shape + "/versions/2")]
print(json.dumps({
    "profiles": [{f: getattr(p, f) for f in fields} for p in profiles],
    "moe": [client.model_is_moe(dense), client.model_is_moe(moe)],
}))
"""


@pytest.mark.fireworks_emulator(
    base_models=(BaseModelSpec(BASE_MODEL), BaseModelSpec(MOE_MODEL, moe=True))
)
def test_official_client_resolves_what_ours_resolves(emu: Emulator) -> None:
    client, reason = official_client()
    if client is None:
        pytest.skip(reason)
    args = (emu.base_url, emu.api_key, SHAPE, BASE_MODEL, MOE_MODEL, *FIELDS)
    official = client.run(DRIVER, *args, timeout=120)
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as ours:
        profiles = [ours.resolve_training_profile(n) for n in (SHAPE, f"{SHAPE}/versions/2")]
        moe = [ours.model_is_moe(BASE_MODEL), ours.model_is_moe(MOE_MODEL)]
    mine = [{f: getattr(p, f) for f in FIELDS} for p in profiles]
    assert set(FIELDS) == {f.name for f in dataclasses.fields(profiles[0])}
    assert official == {"profiles": mine, "moe": moe}
    assert [p["training_shape_version"] for p in mine] == [
        f"{SHAPE}/versions/1",
        f"{SHAPE}/versions/2",
    ]
    assert moe == [False, True]
