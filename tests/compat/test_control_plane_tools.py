"""The cookbook's checkpoint tools and checkpoint managers, in their shape, on our client.

Small functions written here follow what the cookbook's listing and promotion tools, its
``TrainingCheckpoints`` manager and its older ``checkpoint_utils`` do with the client: they
treat rows as plain dicts, compare ``createTime`` strings, cut names with ``rsplit("/", 1)``
and strip the ``-<8 hex>`` session suffix. Each test runs that logic against the emulator.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fireworks_training import FireworksClient, TrainerJobManager
from fireworks_training.emulator import Emulator

from .conftest import BASE_MODEL, RawTrainer, TrainedJob

SESSION_SUFFIX = re.compile(r"-[0-9a-f]{8}$")


def short_name(full: str) -> str:
    return full.rsplit("/", 1)[-1]


def logical(name: str) -> str:
    return SESSION_SUFFIX.sub("", name)


def utc_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The listing and promotion tools ----------------------------------------------------------


def list_tool(client: Any, job_id: str, *, promotable_only: bool, as_json: bool) -> str:
    rows = client.list_checkpoints(job_id, page_size=50)
    if promotable_only:
        rows = [r for r in rows if r.get("promotable")]
    rows = sorted(rows, key=lambda r: r.get("createTime", ""), reverse=True)
    if as_json:
        return json.dumps(rows, indent=2)
    lines = [
        f"{short_name(r.get('name', '')):<32} {r.get('createTime', ''):<30} "
        f"{r.get('checkpointType', ''):<34} {r.get('promotable', False)}"
        for r in rows
    ]
    return "\n".join(lines)


def resolve_for_promotion(fw_client: Any, job_id: str, wanted: str) -> str:
    rows = [r for r in fw_client.list_checkpoints(job_id) if r.get("promotable")]
    rows.sort(key=lambda r: r.get("createTime", ""), reverse=True)
    for r in rows:
        short = short_name(r["name"])
        if short == wanted or logical(short) == logical(wanted):
            return str(r["name"])
    raise LookupError(wanted)


def test_listing_tool_json_and_table(emu: Emulator, trained_job: TrainedJob) -> None:
    client = FireworksClient(api_key=emu.api_key, base_url=emu.base_url)
    dumped = json.loads(list_tool(client, trained_job.job_id, promotable_only=True, as_json=True))
    assert [short_name(r["name"]) for r in dumped] == list(reversed(trained_job.snapshots))
    table = list_tool(client, trained_job.job_id, promotable_only=False, as_json=False)
    assert len(table.splitlines()) == 4
    assert "CHECKPOINT_TYPE_TRAINING " in table
    client.close()


def test_promotion_tool_by_logical_name(emu: Emulator, trained_job: TrainedJob) -> None:
    fw_client = FireworksClient(api_key=emu.api_key, base_url=emu.base_url)
    trainer_mgr = TrainerJobManager(api_key=emu.api_key, base_url=emu.base_url)
    full_name = resolve_for_promotion(fw_client, trained_job.job_id, "step-1")
    assert full_name == trained_job.row_name(trained_job.snapshots[0])
    output_model_id = "tool-promoted"
    model = trainer_mgr.promote_checkpoint(
        name=full_name,
        output_model_id=output_model_id,
        base_model=BASE_MODEL,
        hot_load_deployment_id=None,
    )
    shown = (
        model.get("name", f"accounts/{trainer_mgr.account_id}/models/{output_model_id}"),
        model.get("state", "UNKNOWN"),
        model.get("kind", "UNKNOWN"),
    )
    assert shown[0] == f"accounts/{emu.account_id}/models/{output_model_id}"
    assert shown[1] == "READY"
    print(json.dumps(model), file=sys.stderr)  # the tool logs the model as JSON
    fw_client.close()
    trainer_mgr.close()


def test_merge_tool_finds_its_snapshot_by_prefix(emu: Emulator, trained_job: TrainedJob) -> None:
    fw_client = FireworksClient(api_key=emu.api_key, base_url=emu.base_url)
    snapshot_name = "step-2"
    matches = [
        r
        for r in fw_client.list_checkpoints(trained_job.job_id)
        if r.get("name", "").rsplit("/checkpoints/", 1)[-1].startswith(snapshot_name)
        and r.get("promotable")
    ]
    newest = max(matches, key=lambda r: r["createTime"])
    assert short_name(newest["name"]) == trained_job.snapshots[1]
    model_name = f"accounts/{fw_client.account_id}/models/merged"
    assert model_name == f"accounts/{emu.account_id}/models/merged"
    fw_client.close()


# The checkpoint manager (TrainingCheckpoints): its lister and promoter ------------------


class CheckpointManager:
    """What the cookbook's manager asks of ``fw_client``: rows as dicts, and promotion."""

    def __init__(self, fw_client: Any, trainer_id: str) -> None:
        self.fw_client = fw_client
        self.trainer_id = trainer_id

    def rows(self) -> list[dict[str, Any]]:
        try:
            listed: list[dict[str, Any]] = self.fw_client.list_checkpoints(self.trainer_id)
        except AttributeError:  # a client without a lister: the cookbook starts fresh
            return []
        return listed

    def resumable_since(self, started: str) -> list[str]:
        names = []
        for r in self.rows():
            kind = r.get("checkpointType", "")
            if not kind.endswith(("TRAINING", "TRAINING_LORA")):
                continue
            if r.get("createTime", "") < started:
                continue
            names.append(logical(short_name(r.get("name", ""))))
        return names

    def newest_resumable(self) -> str | None:
        def when(r: dict[str, Any]) -> datetime:
            return datetime.fromisoformat(r["createTime"].replace("Z", "+00:00"))

        states = [r for r in self.rows() if r.get("checkpointType", "").endswith("TRAINING")]
        return logical(short_name(max(states, key=when)["name"])) if states else None

    def promotable_appeared(self, name: str, started: str) -> bool:
        return any(
            r.get("promotable")
            and logical(short_name(r.get("name", ""))) == name
            and r.get("createTime", "") >= started
            for r in self.rows()
        )

    def promote_latest(self, output_model_id: str, base_model: str) -> dict[str, Any]:
        rows = [r for r in self.rows() if r.get("promotable")]
        latest = max(rows, key=lambda r: r.get("createTime", ""))
        model: dict[str, Any] = self.fw_client.promote_checkpoint(
            name=latest["name"],
            output_model_id=output_model_id,
            base_model=base_model,
            hot_load_deployment_id=None,
        )
        return model


@pytest.mark.parametrize("kind", ["client", "manager"])
def test_the_manager_resumes_from_the_rows_instead_of_starting_fresh(
    emu: Emulator, http: Any, kind: str
) -> None:
    job_id = emu.create_trainer_job(job_id=f"manager-{kind}")
    started = utc_stamp(datetime.now(UTC) - timedelta(seconds=10))
    trainer = RawTrainer(http, emu.trainer_url(job_id)).start()
    trainer.save_state("step-3")
    trainer.save_state("step-6")
    snapshot = trainer.save_sampler("step-6")
    cls = FireworksClient if kind == "client" else TrainerJobManager
    with cls(api_key=emu.api_key, base_url=emu.base_url) as fw_client:
        manager = CheckpointManager(fw_client, job_id)
        assert manager.resumable_since(started) == ["step-3", "step-6"]
        assert manager.newest_resumable() == "step-6"
        assert manager.promotable_appeared("step-6", started)
        assert not manager.promotable_appeared("step-3", started)
        model = manager.promote_latest(f"final-{kind}", BASE_MODEL)
    assert model["name"] == f"accounts/{emu.account_id}/models/final-{kind}"
    promote = [r for r in emu.request_log if r.path.endswith(":promote")][-1]
    assert promote.path.endswith(f"/checkpoints/{snapshot}:promote")


def test_rows_saved_before_the_start_are_not_taken(emu: Emulator, trained_job: TrainedJob) -> None:
    later = utc_stamp(datetime.now(UTC) + timedelta(minutes=5))
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as fw_client:
        assert CheckpointManager(fw_client, trained_job.job_id).resumable_since(later) == []


# The older checkpoint_utils: a JSONL of saves, promotion by (job, sampler id) ------------


def sampler_checkpoint_id(save_result: Any) -> str:
    snapshot = getattr(save_result, "snapshot_name", None)
    if snapshot:
        return str(snapshot)
    return str(getattr(save_result, "path", "")).rstrip("/").rsplit("/", 1)[-1]


class SaveResult:
    def __init__(self, path: str, snapshot_name: str | None) -> None:
        self.path = path
        self.snapshot_name = snapshot_name


@pytest.mark.parametrize("by", ["snapshot_name", "path"])
def test_older_utils_promote_the_last_ledger_line(
    emu: Emulator, trained_job: TrainedJob, tmp_path: Path, by: str
) -> None:
    snapshot = trained_job.snapshots[1]
    result = (
        SaveResult(f"gs://bucket/x/{snapshot}/", None)
        if by == "path"
        else SaveResult("opaque", snapshot)
    )
    ledger = tmp_path / "checkpoints.jsonl"
    record = {
        "name": "step-2",
        "step": 2,
        "state_path": f"cross_job://{trained_job.job_id}/step-2",
        "sampler_path": sampler_checkpoint_id(result),
        "source_job_id": trained_job.job_id,
    }
    ledger.write_text(json.dumps(record) + "\n")
    last = json.loads(ledger.read_text().splitlines()[-1])
    output_model_id = f"older-{by.replace('_', '-')}"
    with (
        FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client,
        pytest.warns(DeprecationWarning, match="is deprecated"),
    ):
        model = client.promote_checkpoint(
            last["source_job_id"],
            last["sampler_path"],
            output_model_id,
            BASE_MODEL,
            hot_load_deployment_id=None,
        )
    with FireworksClient(api_key=emu.api_key, base_url=emu.base_url) as client:
        fallback = f"accounts/{client.account_id}/models/{output_model_id}"
    assert model.get("name", fallback) == fallback
    assert model.get("state") == "READY"
