"""Base models and training shapes (docs/protocol.md §1.7): lookups, listing, errors.

Reads only, so one emulator serves the module; a test that publishes more starts its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fireworks_training.emulator import Emulator
from fireworks_training.emulator.catalog import BaseModelSpec, TrainingShapeSpec
from fireworks_training.emulator.settings import Settings

SHAPES = "/v1/accounts/fireworks/trainingShapes"
POLICY = f"{SHAPES}/ts-tiny-bigram-policy"
TINY = "accounts/fireworks/models/tiny-bigram"
MOE = "accounts/fireworks/models/tiny-moe"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    settings = Settings(
        long_poll_seconds=0.5, base_models=(BaseModelSpec(TINY), BaseModelSpec(MOE, moe=True))
    )
    with Emulator(tmp_path_factory.mktemp("catalog"), settings=settings) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cp(shared: Emulator) -> Iterator[httpx.Client]:
    headers = {"X-Api-Key": shared.api_key}
    with httpx.Client(base_url=shared.base_url, headers=headers, timeout=10.0) as client:
        yield client


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    message: str = error["message"]
    return message


def _names(body: dict[str, Any]) -> list[str]:
    return [v["name"].split("/versions/")[1] for v in body["trainingShapeVersions"]]


# -- base models --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "moe"), [(TINY, False), (MOE, True)])
def test_base_model_answers_its_details(cp: httpx.Client, name: str, moe: bool) -> None:
    body = _ok(cp.get(f"/v1/{name}"))
    assert body["name"] == name
    assert body["baseModelDetails"]["moe"] is moe
    assert body["baseModelDetails"]["parameterCount"] == str(256 * 256)  # int64 as a string
    assert body["kind"] == "HF_BASE_MODEL"


def test_unknown_model_of_a_publisher_is_404(cp: httpx.Client) -> None:
    message = _error(cp.get("/v1/accounts/fireworks/models/nope"), 404)
    assert "accounts/fireworks/models/nope" in message


def test_model_of_an_account_that_publishes_nothing_is_403(cp: httpx.Client) -> None:
    _error(cp.get("/v1/accounts/someone-else/models/x"), 403)


def test_own_account_models_still_answer_promoted_models(cp: httpx.Client) -> None:
    message = _error(cp.get("/v1/accounts/emulator/models/never-promoted"), 404)
    assert "never-promoted" in message


@pytest.mark.parametrize("path", ["accounts/fireworks/models/bad.id", "accounts/bad.acct/models/m"])
def test_malformed_model_path_is_400(cp: httpx.Client, path: str) -> None:
    assert "invalid" in _error(cp.get(f"/v1/{path}"), 400)


# -- training shapes ----------------------------------------------------------------------


def test_shape_answers_its_newest_version_configuration(cp: httpx.Client) -> None:
    body = _ok(cp.get(POLICY))
    assert body["name"] == POLICY.removeprefix("/v1/")
    assert body["maxSupportedContextLength"] == 8192  # version 2, not validated, is the newest
    assert body["baseModel"] == TINY


def test_latest_validated_as_the_clients_ask_for_it(cp: httpx.Client) -> None:
    query = {"filter": "latest_validated=true", "pageSize": 1}
    body = _ok(cp.get(f"{POLICY}/versions", params=query))
    (version,) = body["trainingShapeVersions"]
    assert version["name"] == f"{POLICY.removeprefix('/v1/')}/versions/1"
    assert (version["validated"], version["latestValidated"]) == (True, True)
    snapshot = version["snapshot"]
    assert snapshot["trainerMode"] == "POLICY_TRAINER"
    assert snapshot["maxSupportedContextLength"] == 4096
    assert snapshot["trainerShardingScheme"] == {"pipelineParallelism": 1}
    assert snapshot["deploymentShapeVersion"].endswith("/versions/1")
    assert "nextPageToken" not in body


def test_versions_newest_first_unless_ordered_otherwise(cp: httpx.Client) -> None:
    assert _names(_ok(cp.get(f"{POLICY}/versions"))) == ["2", "1"]
    oldest_first = cp.get(f"{POLICY}/versions", params={"orderBy": "create_time"})
    assert _names(_ok(oldest_first)) == ["1", "2"]
    _error(cp.get(f"{POLICY}/versions", params={"orderBy": "name"}), 400)


def test_versions_page_through_every_shape(cp: httpx.Client) -> None:
    seen: list[str] = []
    token = None
    for _ in range(10):
        params: dict[str, Any] = {"pageSize": 1, **({"pageToken": token} if token else {})}
        body = _ok(cp.get(f"{SHAPES}/-/versions", params=params))
        assert len(body["trainingShapeVersions"]) == 1
        seen += [v["name"] for v in body["trainingShapeVersions"]]
        token = body.get("nextPageToken")
        if not token:
            break
    everything = _ok(cp.get("/v1/accounts/-/trainingShapes/-/versions"))
    assert seen == [v["name"] for v in everything["trainingShapeVersions"]]
    assert len(seen) == 4


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('snapshot.trainer_mode="LORA_TRAINER"', ["ts-tiny-bigram-lora"]),
        ("validated=false", ["ts-tiny-bigram-policy"]),
        ("snapshot.max_supported_context_length>4096", ["ts-tiny-bigram-policy"]),
        (
            'latest_validated=true AND snapshot.trainer_mode!="POLICY_TRAINER"',
            ["ts-tiny-bigram-forward", "ts-tiny-bigram-lora"],
        ),
        ("snapshot.no_such_field=1", []),
    ],
)
def test_filter_keeps_the_matching_versions(
    cp: httpx.Client, expression: str, expected: list[str]
) -> None:
    body = _ok(cp.get(f"{SHAPES}/-/versions", params={"filter": expression}))
    shapes = sorted(v["name"].split("/")[3] for v in body["trainingShapeVersions"])
    assert shapes == expected


@pytest.mark.parametrize("expression", ["latest_validated", "a=1 OR b=2", 'x="open', "x=@"])
def test_unreadable_filter_is_400(cp: httpx.Client, expression: str) -> None:
    assert "filter" in _error(cp.get(f"{SHAPES}/-/versions", params={"filter": expression}), 400)


def test_one_version_by_name(cp: httpx.Client) -> None:
    body = _ok(cp.get(f"{POLICY}/versions/2"))
    assert (body["validated"], body["latestValidated"]) == (False, False)
    assert body["snapshot"]["maxSupportedContextLength"] == 8192


@pytest.mark.parametrize(
    "path",
    [f"{SHAPES}/ts-nope", f"{SHAPES}/ts-nope/versions", f"{POLICY}/versions/9"],
)
def test_unknown_shape_or_version_is_404(cp: httpx.Client, path: str) -> None:
    assert "not found" in _error(cp.get(path), 404)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{SHAPES}/bad.shape", 400),
        (f"{POLICY}/versions/bad.version", 400),
        ("/v1/accounts/bad.acct/trainingShapes/ts/versions", 400),
        (f"{SHAPES}/-", 400),  # the wildcard only lists versions
        ("/v1/accounts/someone-else/trainingShapes/ts", 403),
        (f"{POLICY}/versions?pageSize=-1", 400),
        (f"{POLICY}/versions?pageToken=%21%21", 400),
    ],
)
def test_bad_requests_are_refused(cp: httpx.Client, path: str, status: int) -> None:
    _error(cp.get(path), status)


# -- what is published --------------------------------------------------------------------


def test_a_shape_published_while_serving_is_visible_at_once(
    emu: Emulator, http: httpx.Client
) -> None:
    shape = "accounts/emulator/trainingShapes/ts-mine"
    _error(http.get(f"/v1/{shape}/versions/1"), 404)
    emu.settings.add_training_shape(TrainingShapeSpec(shape, node_count=2))
    body = _ok(http.get(f"/v1/{shape}/versions", params={"filter": "latest_validated=true"}))
    (version,) = body["trainingShapeVersions"]
    assert version["snapshot"]["nodeCount"] == 2
    assert version["public"] is False  # the key's own account
    emu.settings.add_base_model(BaseModelSpec("accounts/emulator/models/own-base", moe=True))
    assert _ok(http.get("/v1/accounts/emulator/models/own-base"))["baseModelDetails"]["moe"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BaseModelSpec("fireworks/models/x"), "must be 'accounts/"),
        (lambda: BaseModelSpec("accounts/fireworks/models/bad.id"), "invalid base model id"),
        (lambda: BaseModelSpec(TINY, context_length=0), "context_length must be a positive"),
        (
            lambda: TrainingShapeSpec("accounts/fireworks/trainingShapes/ts", trainer_mode="X"),
            "trainer_mode must be one of",
        ),
        (
            lambda: TrainingShapeSpec("accounts/fireworks/trainingShapes/ts", version="a/b"),
            "invalid training shape version",
        ),
        (
            lambda: TrainingShapeSpec("accounts/fireworks/trainingShapes/ts", base_model="m"),
            "base model must be",
        ),
        (
            lambda: Settings(base_models=(BaseModelSpec(TINY), BaseModelSpec(TINY))),
            "configured twice",
        ),
    ],
)
def test_bad_specs_are_refused_before_serving(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_repeated_shape_version_is_refused() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="configured twice"):
        settings.add_training_shape(settings.training_shapes[0])
