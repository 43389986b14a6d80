"""The official client's server capabilities, ``load_adapter`` and ``unload_model`` on the emulator.

It runs unchanged in its own cached virtualenv (``benchmarks/official.py``); the test skips
when that virtualenv cannot be built.
"""

from __future__ import annotations

import pytest
from benchmarks.official import OfficialClient

from fireworks_training.emulator import Emulator

from .kit import BASE_MODEL, OFFICIAL_PRELUDE

DRIVER = (
    OFFICIAL_PRELUDE
    + """
url, key, base_model = sys.argv[1:4]
datum = official_datum(list(b"the official client trains an adapter"))
service = FiretitanServiceClient(base_url=url, api_key=key)
models = [m.model_name for m in service.get_server_capabilities().supported_models]
source = service.create_training_client(base_model, lora_rank=4)
for _ in range(3):
    source.forward_backward([datum], "cross_entropy").result()
    source.optim_step(types.AdamParams(learning_rate=0.05)).result()
saved = source.save_weights_for_sampler("adapter").result().path
other = FiretitanServiceClient(base_url=url, api_key=key)  # one client per service
target = other.create_training_client(base_model, lora_rank=4)
loaded = target.load_adapter(saved).result()
losses = [
    c.forward([datum], "cross_entropy").result().metrics["loss:sum"] for c in (source, target)
]
missing = None
try:
    target.load_adapter("no-such-adapter").result()
except Exception as exc:
    missing = str(exc)
unloaded = source.unload_model().result()
refused = None
try:
    source.forward_backward([datum], "cross_entropy").result()
except Exception as exc:
    refused = type(exc).__name__
other.close()
service.close()
print(json.dumps({
    "models": models, "saved": saved, "loaded": [loaded.model_id, loaded.adapter_path],
    "target": target.model_id, "losses": losses, "missing": missing,
    "unloaded": unloaded.model_id, "source": source.model_id, "refused": refused,
}))
"""
)


@pytest.mark.slow
def test_official_client_reads_capabilities_loads_an_adapter_and_unloads(
    reference: OfficialClient, emu: Emulator
) -> None:
    job = emu.create_trainer_job(job_id="official-lifecycle", lora_rank=4)
    out = reference.run(DRIVER, emu.trainer_url(job), emu.api_key, BASE_MODEL, timeout=300)
    assert out["models"] == [spec.name for spec in emu.settings.base_models]
    assert out["loaded"] == [out["target"], out["saved"]]
    source_loss, target_loss = out["losses"]
    assert abs(source_loss - target_loss) <= 1e-2 * abs(source_loss)  # through bf16
    assert "not found" in out["missing"]
    assert out["unloaded"] == out["source"]
    assert out["refused"] is not None
    unloads = [e for e in emu.request_log if e.route.endswith("/unload_model")]
    assert [e.body for e in unloads] == [{"model_id": out["source"], "type": "unload_model"}]
