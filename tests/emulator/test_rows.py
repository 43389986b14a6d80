"""Checkpoint rows: pagination, order, mixed precision, extra fields, TTL, overwrite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from fireworks_training._models import parse_rfc3339
from fireworks_training.checkpoints import Checkpoint
from fireworks_training.emulator import Emulator, Settings, kinds
from fireworks_training.emulator.rows import Rows, row_json
from fireworks_training.emulator.store import Clock, Store

from .kit import Trainer, list_all_rows


def _path(job: str) -> str:
    return f"/v1/accounts/emulator/rlorTrainerJobs/{job}/checkpoints"


def _pages(http: httpx.Client, job: str, size: int) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        params: dict[str, Any] = {"pageSize": size}
        if token:
            params["pageToken"] = token
        body = http.get(_path(job), params=params).json()
        pages.append(body)
        token = body.get("nextPageToken")
        if not token:
            return pages


def test_pagination_returns_every_row_once_oldest_first(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    names = emu.add_checkpoint_rows(job, 25)
    pages = _pages(http, job, 10)
    assert [len(p["checkpoints"]) for p in pages] == [10, 10, 5]
    rows = [r for p in pages for r in p["checkpoints"]]
    assert [r["name"] for r in rows] == names
    times = [parse_rfc3339(r["createTime"]) for r in rows]
    assert times == sorted(times)


def test_rows_mix_precisions_so_string_order_is_wrong(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    emu.add_checkpoint_rows(job, 6)
    rows = http.get(_path(job)).json()["checkpoints"]
    stamps = [r["createTime"] for r in rows]
    assert any("." not in s for s in stamps)
    assert any("." in s for s in stamps)
    assert sorted(stamps) != stamps  # a string sort misorders them; parsed times do not


def test_rows_have_the_documented_fields_and_an_extra_one(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    emu.add_checkpoint_rows(job, 3)
    rows = http.get(_path(job)).json()["checkpoints"]
    for row in rows:
        assert {"name", "createTime", "updateTime", "checkpointType", "promotable"} <= set(row)
        assert "sizeBytes" in row  # unknown to clients; they must keep it
        parsed = Checkpoint.model_validate(row)
        assert parsed.promotable == parsed.checkpoint_type.expected_promotable
    assert {r["checkpointType"] for r in rows} == {
        "CHECKPOINT_TYPE_TRAINING",
        "CHECKPOINT_TYPE_INFERENCE_BASE",
        "CHECKPOINT_TYPE_INFERENCE_ARC_V2",
    }


def test_lora_job_synthetic_rows_are_lora_types(emu: Emulator, http: httpx.Client) -> None:
    job = emu.create_trainer_job(lora_rank=4)
    emu.add_checkpoint_rows(job, 4)
    types = {r["checkpointType"] for r in http.get(_path(job)).json()["checkpoints"]}
    assert types == {"CHECKPOINT_TYPE_TRAINING_LORA", "CHECKPOINT_TYPE_INFERENCE_LORA"}


def test_an_empty_middle_page_still_carries_a_token(
    emu: Emulator, http: httpx.Client, job: str
) -> None:
    first = emu.add_checkpoint_rows(job, 2)
    emu.add_checkpoint_rows(job, 2, ttl_seconds=60)
    last = emu.add_checkpoint_rows(job, 2)
    emu.advance_time(61)
    pages = _pages(http, job, 2)
    assert [len(p["checkpoints"]) for p in pages] == [2, 0, 2]
    assert pages[1]["nextPageToken"]
    rows = [r["name"] for p in pages for r in p["checkpoints"]]
    assert set(rows) == set(first + last)


@pytest.mark.parametrize("size", ["-1", "abc"])
def test_invalid_page_size_is_400(http: httpx.Client, job: str, size: str) -> None:
    assert http.get(_path(job), params={"pageSize": size}).status_code == 400


def test_page_size_is_capped_at_1000(emu: Emulator, http: httpx.Client, job: str) -> None:
    emu.add_checkpoint_rows(job, 1001)
    body = http.get(_path(job), params={"pageSize": 5000}).json()
    assert len(body["checkpoints"]) == 1000
    assert body["nextPageToken"]


def test_invalid_page_token_is_400(http: httpx.Client, job: str) -> None:
    response = http.get(_path(job), params={"pageToken": "garbage!"})
    assert response.status_code == 400


def test_token_of_another_job_is_400(emu: Emulator, http: httpx.Client, job: str) -> None:
    other = emu.create_trainer_job(job_id="job-other")
    emu.add_checkpoint_rows(other, 3)
    token = http.get(_path(other), params={"pageSize": 1}).json()["nextPageToken"]
    assert http.get(_path(job), params={"pageToken": token}).status_code == 400


def test_ttl_expires_a_real_checkpoint(emu: Emulator, trainer: Trainer, job: str) -> None:
    trainer.save_state("keep")
    trainer.save_state("short", ttl_seconds=3600)
    assert [r["name"].rsplit("/", 1)[1] for r in trainer.rows(job)] == ["keep", "short"]
    emu.advance_time(3601)
    assert [r["name"].rsplit("/", 1)[1] for r in trainer.rows(job)] == ["keep"]
    failed = trainer.load_state("short", optimizer=True)
    assert failed["category"] == "user"
    listed = trainer.http.get(trainer.api("list_checkpoints")).json()
    assert listed == {"checkpoints": ["keep"]}


def test_resaving_a_name_overwrites_and_moves_update_time(
    emu: Emulator, trainer: Trainer, job: str
) -> None:
    trainer.save_state("same")
    before = trainer.rows(job)
    emu.advance_time(5)
    trainer.train_step()
    trainer.save_state("same", overwrite=True)
    after = trainer.rows(job)
    assert len(after) == 1
    assert after[0]["createTime"] == before[0]["createTime"]
    assert parse_rfc3339(after[0]["updateTime"]) > parse_rfc3339(before[0]["updateTime"])


def test_list_all_rows_helper_sees_many_rows(emu: Emulator, http: httpx.Client, job: str) -> None:
    emu.add_checkpoint_rows(job, 450)
    assert len(list_all_rows(http, _path(job), 200)) == 450


@pytest.mark.parametrize("first_seq_even", [True, False])
def test_saves_in_one_second_keep_creation_order_as_strings(
    tmp_path: Path, first_seq_even: bool
) -> None:
    # A row at second precision ("…:05Z") and a later one in the same second ("…:05.3Z")
    # sort the wrong way round as strings; real saves must not do that (the cookbook sorts
    # rows by the createTime string).
    store = Store(tmp_path)
    rows = Rows(store, Clock(), Settings())
    if not first_seq_even:
        store.next_seq()
    second = 1_700_000_000 * 1_000_000
    for i, offset in enumerate((100, 300_000, 600_000, 1_000_050, 1_400_000, 2_100_000, 3_200_000)):
        row = rows._new_row("job", f"c{i}", kinds.INFERENCE_BASE, second + offset)
        store.rows("job")[row.checkpoint_id] = row
    listed = [row_json(r, "emulator") for r in store.rows("job").values()]
    stamps = [r["createTime"] for r in listed]
    assert sorted(stamps) == stamps
    assert [parse_rfc3339(s) for s in stamps] == sorted(parse_rfc3339(s) for s in stamps)
    assert any("." not in s for s in stamps)  # second precision still appears
