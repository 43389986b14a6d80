"""Cookbook calls on services the emulator does not serve yet (checklist item 15).

Training sessions have no emulator routes; this test makes the cookbook's calls against
``respx`` with the wire of docs/protocol.md §1.7 and checks the exact requests, so it tests
the client's side of the contract only. Model details and training shapes run against the
emulator in ``test_control_plane_catalog.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import respx

from fireworks_training import FireworksClient

BASE = "https://cp.test"
KEY = "fw-compat-key"
ACCOUNT = "acme"
BASE_MODEL = "accounts/fireworks/models/qwen3-8b"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as mock:
        mock.get("/v1/accounts").respond(json={"accounts": [{"name": f"accounts/{ACCOUNT}"}]})
        yield mock


def test_15_session_checkpoints_listed_and_promoted(router: respx.MockRouter) -> None:
    cp_client = FireworksClient(api_key=KEY, base_url=BASE)
    session_name = f"accounts/{cp_client.account_id}/trainingSessions/sess-42"
    rows = [
        {"name": f"{session_name}/checkpoints/step-1", "promotable": False},
        {"name": f"{session_name}/checkpoints/final-0a1b2c3d", "promotable": True},
    ]
    router.get(f"/v1/{session_name}/checkpoints").respond(json={"trainingSessionCheckpoints": rows})
    promote = router.post(f"/v1/{session_name}/checkpoints/final-0a1b2c3d:promote").respond(
        json={"model": {"name": f"accounts/{ACCOUNT}/models/dpo-out", "state": "READY"}}
    )
    checkpoints = cp_client.list_training_session_checkpoints(session_name)
    match = next(c for c in checkpoints if c.get("promotable"))
    model = cp_client.promote_session_checkpoint(
        name=match["name"], output_model_id="dpo-out", base_model=BASE_MODEL
    )
    shown = model.get("name") if isinstance(model, dict) else str(model)
    assert shown == f"accounts/{ACCOUNT}/models/dpo-out"
    assert json.loads(promote.calls.last.request.content) == {
        "output_model": f"accounts/{ACCOUNT}/models/dpo-out",
        "base_model": BASE_MODEL,
    }
    cp_client.close()
