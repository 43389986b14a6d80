"""The control-plane calls of the cookbooks (checklist items 1-13, 16, 24), as they write them.

Each test makes the call the way cookbook code does and reads the result the way that code
reads it, against the emulator.
"""

from __future__ import annotations

import io
import json
import sys
import warnings

import httpx
import pytest

from fireworks_training import FireworksClient, TrainerJobManager, validate_output_model_id
from fireworks_training.emulator import Emulator

from .conftest import BASE_MODEL, TrainedJob, control_plane_requests


def test_1_construction_with_key_and_url_makes_no_request(emu: Emulator) -> None:
    emu.request_log.clear()
    client = FireworksClient(api_key=emu.api_key, base_url=emu.base_url)
    client.close()
    assert control_plane_requests(emu) == []


def test_2_construction_with_the_key_alone_uses_the_public_endpoint() -> None:
    client = FireworksClient(api_key="fw-unused-key")
    assert client.base_url == "https://api.fireworks.ai"
    client.close()


def test_3_extra_headers_as_a_context_manager(emu: Emulator, trained_job: TrainedJob) -> None:
    headers = {"X-Team": "research"}
    with FireworksClient(
        api_key=emu.api_key, base_url=emu.base_url, additional_headers=headers
    ) as client:
        client.list_checkpoints(trained_job.job_id)
    client.close()  # a second close is harmless, as the cookbook's cleanup stacks do
    listed = [r for r in emu.request_log if r.path.startswith("/v1/")]
    assert listed
    assert all(r.headers.get("x-team") == "research" for r in listed)


def test_4_account_id_is_a_string_resolved_once(emu: Emulator) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        model = f"accounts/{client.account_id}/models/merged"
        again = client.account_id
    assert model == f"accounts/{emu.account_id}/models/merged"
    assert again == emu.account_id
    assert control_plane_requests(emu).count(("GET", "/v1/accounts?pageSize=2")) == 1


def test_5_writing_the_private_account_overrides_resolution(
    emu: Emulator, trained_job: TrainedJob
) -> None:
    manager = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    manager._account_id = emu.account_id
    assert manager.list_checkpoints(trained_job.job_id)
    assert ("GET", "/v1/accounts?pageSize=2") not in control_plane_requests(emu)
    manager.close()


def test_6_rows_oldest_first_every_page_json_serialisable(
    emu: Emulator, trained_job: TrainedJob
) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        rows = client.list_checkpoints(trained_job.job_id)
    assert [r["createTime"] for r in rows] == sorted(r["createTime"] for r in rows)
    out = io.StringIO()
    json.dump(rows, out, indent=2)
    assert json.loads(out.getvalue()) == rows
    assert json.loads(json.dumps(rows)) == [dict(r) for r in rows]
    assert {r["name"].rsplit("/", 1)[-1] for r in rows} == {
        "step-1",
        "step-2",
        *trained_job.snapshots,
    }


def test_7_page_size(emu: Emulator, trained_job: TrainedJob) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        rows = client.list_checkpoints(trained_job.job_id, page_size=1)
    assert len(rows) == 4
    listings = [p for m, p in control_plane_requests(emu) if "/checkpoints?" in p]
    assert len(listings) == 4
    assert all("pageSize=1" in p for p in listings)


def test_8_job_id_as_a_keyword_short_or_full(emu: Emulator, trained_job: TrainedJob) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        by_id = client.list_checkpoints(job_id=trained_job.job_id)
        # A skill page passes the full job name here; the official client builds a broken
        # URL from it, this one reads it as the job.
        by_name = client.list_checkpoints(job_id=trained_job.job_name)
    assert by_id == by_name


def test_9_rows_read_as_the_cookbook_reads_them(emu: Emulator, trained_job: TrainedJob) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        rows = client.list_checkpoints(trained_job.job_id)
    promotable = [r for r in rows if r.get("promotable")]
    newest_first = sorted(promotable, key=lambda r: r.get("createTime", ""), reverse=True)
    table = [
        (
            r.get("name", "").rsplit("/", 1)[-1],
            r.get("createTime", ""),
            r.get("checkpointType", ""),
            r.get("promotable", False),
        )
        for r in newest_first
    ]
    assert [t[0] for t in table] == [trained_job.snapshots[1], trained_job.snapshots[0]]
    assert {t[2] for t in table} == {"CHECKPOINT_TYPE_INFERENCE_BASE"}
    states = [r for r in rows if r.get("checkpointType", "").endswith("TRAINING")]
    assert [r["name"].rsplit("/", 1)[-1] for r in states] == ["step-1", "step-2"]
    assert all(r["promotable"] is False for r in states)
    for r in rows:  # the typed view agrees with the keys
        assert r.promotable is r["promotable"]
        assert r.checkpoint_id == r["name"].rsplit("/", 1)[-1]


def _promotable_name(emu: Emulator, job: TrainedJob, index: int = -1) -> str:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        rows = client.list_checkpoints(job.job_id)
    return str([r for r in rows if r.get("promotable")][index]["name"])


def test_10_promote_by_name_returns_the_model_dict(emu: Emulator, trained_job: TrainedJob) -> None:
    name = _promotable_name(emu, trained_job)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning on this form
        with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            model = client.promote_checkpoint(
                name=name, output_model_id="compat-ten", base_model=BASE_MODEL
            )
            account = client.account_id
    assert isinstance(model, dict)
    assert model.get("name", f"accounts/{account}/models/compat-ten") == (
        f"accounts/{emu.account_id}/models/compat-ten"
    )
    assert model.get("state", "UNKNOWN") == "READY"
    assert model.get("kind", "UNKNOWN") != "UNKNOWN"
    json.dumps(model)


def test_11_explicit_none_hot_load_deployment_does_not_warn(
    emu: Emulator, trained_job: TrainedJob
) -> None:
    name = _promotable_name(emu, trained_job)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            model = client.promote_checkpoint(
                name=name,
                output_model_id="compat-eleven",
                base_model=BASE_MODEL,
                hot_load_deployment_id=None,
            )
    assert model["name"].endswith("/compat-eleven")


def test_12_the_legacy_positional_form_warns_and_promotes(
    emu: Emulator, trained_job: TrainedJob
) -> None:
    snapshot = trained_job.snapshots[0]
    with (
        FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client,
        pytest.warns(
            DeprecationWarning, match=r"promote_checkpoint\(job_id, checkpoint_id"
        ) as caught,
    ):
        model = client.promote_checkpoint(trained_job.job_id, snapshot, "compat-twelve", BASE_MODEL)
    assert all(w.filename == __file__ for w in caught)  # the warning names this line
    assert model.get("state") == "READY"
    promote = [r for r in emu.request_log if r.path.endswith(":promote")][-1]
    assert promote.path == f"/v1/accounts/{emu.account_id}/checkpoints/{snapshot}:promote"
    assert promote.body["trainer_job_id"] == trained_job.job_name


def test_13_the_job_manager_lists_and_promotes_too(emu: Emulator, trained_job: TrainedJob) -> None:
    trainer_mgr = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    rows = trainer_mgr.list_checkpoints(trained_job.job_id)
    chosen = [r for r in rows if r.get("promotable")][-1]
    model = trainer_mgr.promote_checkpoint(
        name=chosen["name"],
        output_model_id="compat-thirteen",
        base_model=BASE_MODEL,
        hot_load_deployment_id=None,
    )
    fallback = f"accounts/{trainer_mgr.account_id}/models/compat-thirteen"
    assert model.get("name", fallback) == fallback
    trainer_mgr.close()


@pytest.mark.parametrize(
    ("model_id", "valid"),
    [("my-model-1", True), ("", False), (None, False), ("My_Model", False), ("x" * 64, False)],
)
def test_16_validate_output_model_id_is_a_list_of_problems(
    model_id: str | None, valid: bool
) -> None:
    errors = validate_output_model_id(model_id)
    assert isinstance(errors, list)
    assert (errors == []) is valid
    assert all(isinstance(e, str) and e for e in errors)


def test_24_private_get_answers_like_an_httpx_response(
    emu: Emulator, trained_job: TrainedJob
) -> None:
    manager = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    resp = manager._get(f"/v1/{trained_job.job_name}", timeout=30)
    assert resp.is_success
    assert resp.status_code == 200
    assert resp.json()["state"] == "JOB_STATE_RUNNING"
    resp.raise_for_status()
    missing = manager._get(f"/v1/accounts/{emu.account_id}/rlorTrainerJobs/nope", timeout=30)
    assert (missing.is_success, missing.status_code) == (False, 404)
    with pytest.raises(httpx.HTTPStatusError):
        missing.raise_for_status()
    manager.close()


def test_rows_written_to_stdout_as_the_listing_tool_does(
    emu: Emulator, trained_job: TrainedJob, capsys: pytest.CaptureFixture[str]
) -> None:
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        rows = client.list_checkpoints(trained_job.job_id, page_size=200)
    json.dump(rows, sys.stdout, indent=2)
    assert json.loads(capsys.readouterr().out) == rows
