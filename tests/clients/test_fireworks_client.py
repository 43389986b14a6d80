"""FireworksClient and AsyncFireworksClient: construction, accounts, listing, models, ops."""

from __future__ import annotations

import ssl
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

from fireworks_training.checkpoints import CheckpointType, TrainerJobName
from fireworks_training.clients._base_client import USER_AGENT
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.errors import (
    AccountResolutionError,
    InvalidArgumentError,
    InvalidNameError,
    NotFoundError,
)

from .conftest import ACCOUNT, BASE, JOB, KEY, AnyClient, call, collect, make_client, model, row

pytestmark = pytest.mark.anyio

LIST_PATH = f"/v1/accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints"


def assert_headers(request: httpx.Request) -> None:
    assert request.headers["X-Api-Key"] == KEY
    assert request.headers["User-Agent"] == USER_AGENT


# Construction -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
def test_missing_key_is_an_error_at_construction(cls: type[AnyClient]) -> None:
    with pytest.raises(InvalidArgumentError, match="FIREWORKS_API_KEY"):
        cls(base_url=BASE)


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
async def test_key_and_url_from_environment(
    cls: type[AnyClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", KEY)
    monkeypatch.setenv("FIREWORKS_BASE_URL", "https://env.test/")
    made = cls()
    assert made.base_url == "https://env.test"
    await call(made.close())


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
async def test_default_url_and_tls_verification(cls: type[AnyClient]) -> None:
    made = cls(api_key=KEY)
    assert made.base_url == "https://api.fireworks.ai"
    pool = made._http._transport._pool  # type: ignore[union-attr]
    assert pool._ssl_context.verify_mode == ssl.CERT_REQUIRED
    await call(made.close())


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
async def test_repr_hides_the_key(cls: type[AnyClient]) -> None:
    made = cls(api_key=KEY, base_url=BASE, account_id=ACCOUNT)
    assert KEY not in repr(made)
    assert repr(made) == f"{cls.__name__}(base_url={BASE!r}, account_id={ACCOUNT!r})"
    await call(made.close())


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
@pytest.mark.parametrize("account", ["", "a/b", "bad account"])
def test_invalid_account_id(cls: type[AnyClient], account: str) -> None:
    with pytest.raises(InvalidNameError):
        cls(api_key=KEY, base_url=BASE, account_id=account)


def test_sync_context_manager_closes() -> None:
    with FireworksClient(api_key=KEY, base_url=BASE) as made:
        assert not made._http.is_closed
    assert made._http.is_closed


async def test_async_context_manager_closes() -> None:
    async with AsyncFireworksClient(api_key=KEY, base_url=BASE) as made:
        assert not made._http.is_closed
    assert made._http.is_closed


async def test_callers_http_client_is_used_and_left_open(router: respx.MockRouter) -> None:
    route = router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m"))
    http = httpx.Client()
    with FireworksClient(
        api_key=KEY,
        base_url=BASE,
        account_id=ACCOUNT,
        http_client=http,
        additional_headers={"X-Extra": "1"},
    ) as made:
        made.get_model("m")
    assert not http.is_closed
    assert route.calls.last.request.headers["X-Extra"] == "1"
    http.close()


# Account resolution -------------------------------------------------------------------


async def test_account_resolved_once(lookup_client: AnyClient, router: respx.MockRouter) -> None:
    accounts = router.get("/v1/accounts").respond(json={"accounts": [{"name": "accounts/acme"}]})
    router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m"))
    assert await call(lookup_client.get_account_id()) == ACCOUNT
    await call(lookup_client.get_model("m"))
    await call(lookup_client.checkpoint_name(JOB, "c"))
    assert accounts.call_count == 1
    request = accounts.calls.last.request
    assert dict(request.url.params) == {"pageSize": "2"}
    assert_headers(request)
    assert lookup_client.account_id == ACCOUNT


@pytest.mark.parametrize(
    "accounts",
    [[], [{"name": "accounts/a"}, {"name": "accounts/b"}]],
    ids=["zero", "several"],
)
async def test_zero_or_several_accounts(
    lookup_client: AnyClient, router: respx.MockRouter, accounts: list[dict[str, str]]
) -> None:
    router.get("/v1/accounts").respond(json={"accounts": accounts})
    with pytest.raises(AccountResolutionError, match=f"found {len(accounts)}"):
        await call(lookup_client.get_account_id())


async def test_given_account_skips_lookup(client: AnyClient, router: respx.MockRouter) -> None:
    assert await call(client.get_account_id()) == ACCOUNT
    assert await call(client.checkpoint_name(JOB, "step-1")) == (
        f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/step-1"
    )
    assert len(router.calls) == 0


async def test_checkpoint_name_validates_before_any_request(
    lookup_client: AnyClient, router: respx.MockRouter
) -> None:
    with pytest.raises(InvalidNameError):
        await call(lookup_client.checkpoint_name(JOB, "../x"))
    assert len(router.calls) == 0


# Listing ------------------------------------------------------------------------------


def pages_route(router: respx.MockRouter, path: str = LIST_PATH) -> respx.Route:
    return router.get(path).mock(
        side_effect=[
            httpx.Response(200, json={"checkpoints": [row("a"), row("b")], "nextPageToken": "t1"}),
            httpx.Response(200, json={"checkpoints": [], "nextPageToken": "t2"}),
            httpx.Response(200, json={"checkpoints": [row("c")], "nextPageToken": ""}),
        ]
    )


@pytest.mark.parametrize("given", [True, False], ids=["account-given", "account-looked-up"])
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_three_pages_make_three_requests(
    router: respx.MockRouter, flavour: str, given: bool
) -> None:
    accounts = router.get("/v1/accounts").respond(json={"accounts": [{"name": "accounts/acme"}]})
    route = pages_route(router)
    made = make_client(flavour, account_id=ACCOUNT if given else None)
    rows = await call(made.list_checkpoints(JOB))
    await call(made.close())
    assert [r.checkpoint_id for r in rows] == ["a", "b", "c"]
    assert route.call_count == 3
    assert accounts.call_count == (0 if given else 1)
    assert len(router.calls) == 3 + (0 if given else 1)
    params = [dict(c.request.url.params) for c in route.calls]
    assert params == [
        {"pageSize": "200"},
        {"pageSize": "200", "pageToken": "t1"},
        {"pageSize": "200", "pageToken": "t2"},
    ]
    for c in route.calls:
        assert c.request.url.path == LIST_PATH
        assert_headers(c.request)


async def test_rows_are_typed_and_keep_unknown_fields(
    client: AnyClient, router: respx.MockRouter
) -> None:
    wire = row("step-2", checkpointType="CHECKPOINT_TYPE_TRAINING", promotable=False, novel=1)
    router.get(LIST_PATH).respond(json={"checkpoints": [wire]})
    [got] = await call(client.list_checkpoints(JOB, page_size=5))
    assert got.checkpoint_type is CheckpointType.TRAINING
    assert got.resumable
    assert not got.promotable
    assert got["name"] == wire["name"]
    assert got["novel"] == 1
    assert dict(router.calls.last.request.url.params) == {"pageSize": "5"}


async def test_older_servers_list_key(client: AnyClient, router: respx.MockRouter) -> None:
    router.get(LIST_PATH).respond(json={"rlorTrainerJobCheckpoints": [row("a")]})
    rows = await call(client.list_checkpoints(JOB))
    assert [r.checkpoint_id for r in rows] == ["a"]


async def test_missing_token_ends_listing(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.get(LIST_PATH).respond(json={"checkpoints": [row("a")]})
    assert len(await call(client.list_checkpoints(JOB))) == 1
    assert route.call_count == 1


async def test_full_job_name_needs_no_account(
    lookup_client: AnyClient, router: respx.MockRouter
) -> None:
    route = router.get("/v1/accounts/other/rlorTrainerJobs/j/checkpoints").respond(json={})
    name = TrainerJobName("other", "j")
    assert await call(lookup_client.list_checkpoints(name)) == []
    assert await call(lookup_client.list_checkpoints(str(name))) == []
    assert route.call_count == 2
    assert len(router.calls) == 2


async def test_pager_is_lazy_and_has_pages(client: AnyClient, router: respx.MockRouter) -> None:
    route = pages_route(router)
    pager = client.iter_checkpoints(JOB)
    assert route.call_count == 0
    pages: list[Any] = []
    if isinstance(client, FireworksClient):
        pages = list(pager.pages)  # type: ignore[union-attr]
    else:
        pages = [p async for p in pager.pages]  # type: ignore[union-attr]
    assert [len(p.items) for p in pages] == [2, 0, 1]
    assert [p.next_page_token for p in pages] == ["t1", "t2", None]
    assert route.call_count == 3


async def test_pager_items(client: AnyClient, router: respx.MockRouter) -> None:
    pages_route(router)
    items = await collect(client.iter_checkpoints(JOB))
    assert [r.checkpoint_id for r in items] == ["a", "b", "c"]


@pytest.mark.parametrize("page_size", [0, -1, 1001, True, 2.5, "10"])
async def test_page_size_checked_before_any_request(
    lookup_client: AnyClient, router: respx.MockRouter, page_size: Any
) -> None:
    with pytest.raises(InvalidArgumentError, match="page_size"):
        await call(lookup_client.list_checkpoints(JOB, page_size=page_size))
    with pytest.raises(InvalidArgumentError, match="page_size"):
        lookup_client.iter_checkpoints(JOB, page_size=page_size)
    assert len(router.calls) == 0


@pytest.mark.parametrize("page_size", [1, 1000])
async def test_page_size_bounds_accepted(
    client: AnyClient, router: respx.MockRouter, page_size: int
) -> None:
    route = router.get(LIST_PATH).respond(json={})
    await call(client.list_checkpoints(JOB, page_size=page_size))
    assert dict(route.calls.last.request.url.params) == {"pageSize": str(page_size)}


@pytest.mark.parametrize("job", ["", "a/b", "../x", "job id"])
async def test_bad_job_id_before_any_request(
    lookup_client: AnyClient, router: respx.MockRouter, job: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        await call(lookup_client.list_checkpoints(job))
    assert len(router.calls) == 0


async def test_unknown_job_is_not_found(client: AnyClient, router: respx.MockRouter) -> None:
    router.get(LIST_PATH).respond(404, json={"error": {"code": 404, "message": "no such job"}})
    with pytest.raises(NotFoundError) as info:
        await call(client.list_checkpoints(JOB))
    assert str(info.value) == f"404 GET {LIST_PATH}: no such job"
    assert len(router.calls) == 1


async def test_a_multi_line_server_message_makes_a_one_line_error(
    client: AnyClient, router: respx.MockRouter
) -> None:
    message = "no such job\n  details:\r\n\tjob-abc was deleted  \n"
    router.get(LIST_PATH).respond(404, json={"error": {"code": 404, "message": message}})
    with pytest.raises(NotFoundError) as info:
        await call(client.list_checkpoints(JOB))
    line = f"404 GET {LIST_PATH}: no such job details: job-abc was deleted"
    assert str(info.value) == info.value.message == line
    assert info.value.server_message == "no such job details: job-abc was deleted"
    assert info.value.body == {"error": {"code": 404, "message": message}}
    assert len(router.calls) == 1


# Models and operations ----------------------------------------------------------------


async def test_get_model(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m", extra=1))
    got = await call(client.get_model("m"))
    assert got.model_id == "m"
    assert got.state == "READY"
    assert got["extra"] == 1
    assert_headers(route.calls.last.request)


async def test_get_model_by_full_name(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.get("/v1/accounts/fireworks/models/qwen3-8b").respond(
        json={"name": "accounts/fireworks/models/qwen3-8b"}
    )
    got = await call(client.get_model("accounts/fireworks/models/qwen3-8b"))
    assert got.name == "accounts/fireworks/models/qwen3-8b"
    assert route.call_count == 1


async def test_get_operation(client: AnyClient, router: respx.MockRouter) -> None:
    name = f"accounts/{ACCOUNT}/operations/op-1"
    router.get(f"/v1/{name}").respond(
        json={"name": name, "done": False, "metadata": {"statusMessage": "copying"}}
    )
    status = await call(client.get_operation(name))
    assert status.name == name
    assert not status.done
    assert status.status_message == "copying"


@pytest.mark.parametrize("name", ["", "/x", "a//b", "op", "a/../b", "a/b?c"])
async def test_bad_operation_name(client: AnyClient, router: respx.MockRouter, name: str) -> None:
    with pytest.raises(InvalidArgumentError):
        await call(client.get_operation(name))
    assert len(router.calls) == 0


# Timeouts and import hygiene ------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [
        (5.0, {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}),
        (60.0, {"connect": 10.0, "read": 60.0, "write": 60.0, "pool": 60.0}),
        (httpx.Timeout(3.0, read=30.0), {"connect": 3.0, "read": 30.0, "write": 3.0, "pool": 3.0}),
        (None, {"connect": None, "read": None, "write": None, "pool": None}),
    ],
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_timeout_sent_with_every_request(
    router: respx.MockRouter, flavour: str, timeout: Any, expected: dict[str, Any]
) -> None:
    route = router.get(f"/v1/accounts/{ACCOUNT}/models/m").respond(json=model("m"))
    made = make_client(flavour, account_id=ACCOUNT, timeout=timeout)
    await call(made.get_model("m"))
    await call(made.close())
    assert route.calls.last.request.extensions["timeout"] == expected


@pytest.mark.parametrize("cls", [FireworksClient, AsyncFireworksClient])
def test_non_positive_timeout(cls: type[AnyClient]) -> None:
    with pytest.raises(InvalidArgumentError, match="timeout"):
        cls(api_key=KEY, base_url=BASE, timeout=0)


def test_import_has_no_side_effects() -> None:
    code = (
        "import logging, warnings\n"
        "import numpy, tinker  # third-party imports may add their own filters\n"
        "filters = list(warnings.filters)\n"
        "import fireworks_training.clients.fireworks, fireworks_training.operations\n"
        "assert warnings.filters == filters\n"
        "assert logging.getLogger().handlers == []\n"
        "assert logging.getLogger('fireworks_training').handlers == []\n"
        "assert logging.getLogger('fireworks_training').level == logging.NOTSET\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
