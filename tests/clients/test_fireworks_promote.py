"""Promotion: argument rules, exact wire, replies, operations and the retry policy."""

from __future__ import annotations

import inspect
import json
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from fireworks_training._constants import DEFAULT_MAX_RETRIES
from fireworks_training.checkpoints import CheckpointName, Model, TrainerJobName
from fireworks_training.clients.fireworks import AsyncFireworksClient, FireworksClient
from fireworks_training.errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidArgumentError,
    InvalidModelIdError,
    InvalidNameError,
    OperationError,
    OperationTimeoutError,
)

from .conftest import (
    ACCOUNT,
    BASE_MODEL,
    CKPT,
    CKPT_NAME,
    JOB,
    KEY,
    AnyClient,
    call,
    make_client,
    model,
)

pytestmark = pytest.mark.anyio

PROMOTE = f"/v1/accounts/{ACCOUNT}/checkpoints/{CKPT}:promote"
JOB_PATH = f"/v1/accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}"
MODEL_PATH = f"/v1/accounts/{ACCOUNT}/models/my-model"
OP = f"accounts/{ACCOUNT}/operations/op-1"
LEGACY = r"promote_checkpoint\(job_id, checkpoint_id, \.\.\.\) is deprecated"
BODY = {
    "output_model": f"accounts/{ACCOUNT}/models/my-model",
    "trainer_job_id": f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}",
    "base_model": BASE_MODEL,
    "async_promotion": True,
}


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


async def promote(client: AnyClient, **kwargs: Any) -> Model:
    kwargs.setdefault("name", CKPT_NAME)
    kwargs.setdefault("output_model_id", "my-model")
    kwargs.setdefault("base_model", BASE_MODEL)
    result: Model = await call(client.promote_checkpoint(**kwargs))
    return result


def error(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": status, "message": message}}, headers=headers
    )


# The preferred form -------------------------------------------------------------------


@pytest.mark.parametrize("as_object", [False, True], ids=["str", "CheckpointName"])
async def test_name_form_exact_wire_no_lookup(
    lookup_client: AnyClient, router: respx.MockRouter, as_object: bool
) -> None:
    route = router.post(PROMOTE).respond(json={"model": model()})
    name = CheckpointName.parse(CKPT_NAME) if as_object else CKPT_NAME
    got = await promote(lookup_client, name=name)
    assert got.name == f"accounts/{ACCOUNT}/models/my-model"
    assert got.state == "READY"
    assert len(router.calls) == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.url.path == PROMOTE
    assert request.url.query == b""
    assert sent(route) == BODY
    assert request.headers["X-Api-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "job_id",
    [JOB, f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}", TrainerJobName(ACCOUNT, JOB)],
    ids=["short", "full-name", "TrainerJobName"],
)
async def test_name_with_the_same_job_id_is_fine(
    client: AnyClient, router: respx.MockRouter, job_id: str | TrainerJobName
) -> None:
    route = router.post(PROMOTE).respond(json={"model": model()})
    await promote(client, job_id=job_id)
    assert len(router.calls) == 1
    assert sent(route) == BODY


# The legacy form ----------------------------------------------------------------------


@pytest.mark.parametrize("keywords", [False, True], ids=["positional", "keywords"])
async def test_legacy_form_works_with_one_warning(
    client: AnyClient, router: respx.MockRouter, keywords: bool
) -> None:
    route = router.post(PROMOTE).respond(json={"model": model()})
    args: tuple[Any, ...] = (JOB, CKPT, "my-model", BASE_MODEL)
    kwargs: dict[str, Any] = {}
    if keywords:
        names = ("job_id", "checkpoint_id", "output_model_id", "base_model")
        args, kwargs = (), dict(zip(names, args, strict=True))
    with pytest.warns(DeprecationWarning, match=LEGACY) as caught:
        await call(client.promote_checkpoint(*args, **kwargs))
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "4-segment name" in text
    assert "list_checkpoints" in text
    assert "name=" in text
    assert sent(route) == BODY


def caller_line() -> int:
    """The line this is called from."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


WARNING_CASES = [
    "legacy-positional-sync",
    "legacy-keywords-sync",
    "legacy-promote-async",
    "legacy-begin-async",
    "hot-load-sync",
    "hot-load-async",
]


@pytest.mark.parametrize("case", WARNING_CASES)
async def test_deprecation_warning_points_at_the_callers_line(
    router: respx.MockRouter, case: str
) -> None:
    router.post(PROMOTE).respond(json={"model": model()})
    sync = FireworksClient(api_key=KEY, base_url="https://fw.test", account_id=ACCOUNT)
    aio = AsyncFireworksClient(api_key=KEY, base_url="https://fw.test", account_id=ACCOUNT)
    m, b = "my-model", BASE_MODEL
    named: dict[str, Any] = {"name": CKPT_NAME, "output_model_id": m, "base_model": b}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Each call sits on the line after caller_line(), as a user's call would.
        if case == "legacy-positional-sync":
            line = caller_line() + 1
            sync.promote_checkpoint(JOB, CKPT, m, b)
        elif case == "legacy-keywords-sync":
            line = caller_line() + 1
            sync.promote_checkpoint(job_id=JOB, checkpoint_id=CKPT, output_model_id=m, base_model=b)
        elif case == "legacy-promote-async":
            line = caller_line() + 1
            await aio.promote_checkpoint(JOB, CKPT, m, b)
        elif case == "legacy-begin-async":
            line = caller_line() + 1
            await aio.begin_promote_checkpoint(JOB, CKPT, m, b)
        elif case == "hot-load-sync":
            line = caller_line() + 1
            sync.promote_checkpoint(**named, hot_load_deployment_id="d")
        else:
            line = caller_line() + 1
            await aio.promote_checkpoint(**named, hot_load_deployment_id="d")
    sync.close()
    await aio.close()
    assert [w.category for w in caught] == [DeprecationWarning]
    assert (caught[0].filename, caught[0].lineno) == (__file__, line)
    method = "begin_promote_checkpoint(" if "begin" in case else "promote_checkpoint("
    assert str(caught[0].message).startswith(method)
    assert ("hot_load_deployment_id" in str(caught[0].message)) is case.startswith("hot-load")


async def test_legacy_form_looks_the_account_up(
    lookup_client: AnyClient, router: respx.MockRouter
) -> None:
    accounts = router.get("/v1/accounts").respond(json={"accounts": [{"name": "accounts/acme"}]})
    route = router.post(PROMOTE).respond(json={"model": model()})
    with pytest.warns(DeprecationWarning, match=LEGACY):
        await call(lookup_client.promote_checkpoint(JOB, CKPT, "my-model", BASE_MODEL))
    assert accounts.call_count == 1
    assert route.call_count == 1
    assert [c.request.method for c in router.calls] == ["GET", "POST"]


async def test_three_argument_call_reads_the_jobs_base_model(
    client: AnyClient, router: respx.MockRouter
) -> None:
    job = {"name": JOB_PATH[4:], "state": "JOB_STATE_DELETED", "trainingConfig": {"baseModel": "b"}}
    job_route = router.get(JOB_PATH).respond(json=job)
    route = router.post(PROMOTE).respond(json={"model": model()})
    with pytest.warns(DeprecationWarning, match=LEGACY):
        await call(client.promote_checkpoint(JOB, CKPT, "my-model"))
    assert job_route.call_count == 1
    assert sent(route) == {**BODY, "base_model": "b"}


async def test_job_without_base_model_is_a_value_error(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.get(JOB_PATH).respond(json={"name": JOB_PATH[4:], "trainingConfig": {}})
    route = router.post(PROMOTE)
    with pytest.raises(InvalidArgumentError, match="baseModel"):
        await promote(client, base_model=None)
    assert route.call_count == 0


# Bad input: raised before any request ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"checkpoint_id": CKPT}, InvalidArgumentError),
        ({"job_id": "other-job"}, InvalidArgumentError),
        ({"job_id": f"accounts/other/rlorTrainerJobs/{JOB}"}, InvalidArgumentError),
        ({"job_id": f"accounts/{ACCOUNT}/rlorTrainerJobs/other-job"}, InvalidArgumentError),
        ({"job_id": TrainerJobName("other", JOB)}, InvalidArgumentError),
        ({"job_id": TrainerJobName(ACCOUNT, "other-job")}, InvalidArgumentError),
        ({"job_id": f"accounts/{ACCOUNT}/jobs/{JOB}"}, InvalidNameError),
        ({"job_id": 42}, InvalidArgumentError),
        ({"name": "accounts/acme/checkpoints/x"}, InvalidNameError),
        ({"name": "accounts/acme/rlorTrainerJobs/j/checkpoints/../x"}, InvalidNameError),
        ({"name": 42}, InvalidArgumentError),
        ({"output_model_id": None}, InvalidArgumentError),
        ({"output_model_id": "My_Model"}, InvalidModelIdError),
        ({"output_model_id": "x" * 64}, InvalidModelIdError),
        ({"output_model_id": ""}, InvalidModelIdError),
        ({"base_model": ""}, InvalidArgumentError),
        ({"hot_load_deployment_id": ""}, InvalidArgumentError),
        ({"hot_load_deployment_id": "../../x y"}, InvalidNameError),
        ({"hot_load_deployment_id": "accounts/acme/deployments/a b"}, InvalidNameError),
        ({"hot_load_deployment_id": "accounts/acme/models/dep-1"}, InvalidNameError),
        ({"name": None, "job_id": JOB}, InvalidArgumentError),
        ({"name": None, "checkpoint_id": CKPT}, InvalidArgumentError),
        ({"name": None, "job_id": "a b", "checkpoint_id": CKPT}, InvalidNameError),
        ({"name": None, "job_id": JOB, "checkpoint_id": "x/y"}, InvalidNameError),
    ],
)
async def test_bad_arguments_before_any_request(
    lookup_client: AnyClient,
    router: respx.MockRouter,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error) as info:
        await promote(lookup_client, **kwargs)
    assert isinstance(info.value, ValueError)
    with pytest.raises(error):
        await call(
            lookup_client.begin_promote_checkpoint(
                **{"name": CKPT_NAME, "output_model_id": "my-model", **kwargs}
            )
        )
    assert len(router.calls) == 0


@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "600", True])
async def test_a_bad_timeout_is_refused_before_the_promotion_is_sent(
    client: AnyClient, router: respx.MockRouter, timeout: Any
) -> None:
    # Refused after the :promote, the model would exist and a retry would meet a 409.
    with pytest.raises(InvalidArgumentError, match=r"timeout must be a finite number"):
        await promote(client, timeout=timeout)
    assert len(router.calls) == 0


# hot_load_deployment_id ---------------------------------------------------------------


@pytest.mark.parametrize(
    "deployment", ["dep-1", f"accounts/{ACCOUNT}/deployments/dep-1"], ids=["id", "name"]
)
async def test_hot_load_deployment_warns_and_is_sent(
    client: AnyClient, router: respx.MockRouter, deployment: str
) -> None:
    route = router.post(PROMOTE).respond(json={"model": model()})
    with pytest.warns(DeprecationWarning, match="hot_load_deployment_id") as caught:
        await promote(client, hot_load_deployment_id=deployment)
    assert len(caught) == 1
    assert sent(route) == {
        **BODY,
        "hot_load_deployment_id": f"accounts/{ACCOUNT}/deployments/dep-1",
    }


async def test_legacy_form_and_hot_load_warn_separately(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(json={"model": model()})
    with pytest.warns(DeprecationWarning, match="deprecated") as caught:
        await call(
            client.promote_checkpoint(JOB, CKPT, "my-model", "b", hot_load_deployment_id="d")
        )
    assert len(caught) == 2
    assert "hot_load_deployment_id" in str(caught[1].message)


# The async_promotion opt-in -----------------------------------------------------------


async def test_older_server_gets_the_body_again_without_async_promotion(
    client: AnyClient, router: respx.MockRouter
) -> None:
    route = router.post(PROMOTE).mock(
        side_effect=[
            error(400, 'Invalid JSON payload: unknown name "async_promotion"'),
            httpx.Response(200, json={"model": model()}),
        ]
    )
    await promote(client)
    assert route.call_count == 2
    assert sent(route, 0) == BODY
    without = dict(BODY)
    del without["async_promotion"]
    assert sent(route, 1) == without


@pytest.mark.parametrize(
    "reply",
    [
        error(400, "checkpoint is not promotable"),
        error(404, "unknown field async_promotion"),
        error(422, "async_promotion"),
    ],
    ids=["400-other-message", "404-mentioning", "422-mentioning"],
)
async def test_no_resend_for_other_errors(
    client: AnyClient, router: respx.MockRouter, reply: httpx.Response
) -> None:
    route = router.post(PROMOTE).mock(return_value=reply)
    with pytest.raises(APIStatusError):
        await promote(client)
    assert route.call_count == 1


async def test_a_checkpoint_id_naming_async_promotion_is_no_reason_to_resend(
    client: AnyClient, router: respx.MockRouter
) -> None:
    checkpoint = "async_promotion-1"
    path = f"/v1/accounts/{ACCOUNT}/checkpoints/{checkpoint}:promote"
    route = router.post(path).mock(return_value=error(400, "checkpoint is not promotable"))
    name = f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/{checkpoint}"
    with pytest.raises(BadRequestError) as info:
        await promote(client, name=name)
    assert len(router.calls) == route.call_count == 1
    assert sent(route) == BODY
    assert str(info.value) == f"400 POST {path}: checkpoint is not promotable"
    assert info.value.server_message == "checkpoint is not promotable"


async def test_resend_without_async_promotion_only_once(
    client: AnyClient, router: respx.MockRouter
) -> None:
    route = router.post(PROMOTE).mock(return_value=error(400, "bad async_promotion"))
    with pytest.raises(BadRequestError):
        await promote(client)
    assert route.call_count == 2


# Replies and operations ---------------------------------------------------------------


def operation(done: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": OP, "done": done, "metadata": {"statusMessage": "copying"}, **extra}


async def test_asynchronous_reply_is_polled_to_the_model(
    client: AnyClient, router: respx.MockRouter, sleeps: list[float]
) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    response = {"@type": "type.googleapis.com/gateway.Model", **model()}
    poll = router.get(f"/v1/{OP}").mock(
        side_effect=[
            httpx.Response(200, json=operation()),
            httpx.Response(200, json=operation(done=True, response=response)),
        ]
    )
    got = await promote(client)
    assert got.name == model()["name"]
    assert "@type" not in got
    assert poll.call_count == 2
    assert sleeps == [0.5, 0.75]


async def test_transient_poll_failures_are_retried(
    client: AnyClient, router: respx.MockRouter, sleeps: list[float]
) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    poll = router.get(f"/v1/{OP}").mock(
        side_effect=[
            error(503, "busy"),
            httpx.ConnectError("refused"),
            error(429, "slow down"),
            httpx.Response(200, json=operation(done=True, response=model())),
        ]
    )
    await promote(client)
    assert poll.call_count == 4
    assert sleeps == [0.5, 0.75, 1.125, 1.6875]


async def test_operation_error(client: AnyClient, router: respx.MockRouter) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    router.get(f"/v1/{OP}").respond(
        json=operation(done=True, error={"code": 9, "message": "blob missing"})
    )
    with pytest.raises(OperationError, match="blob missing") as info:
        await promote(client)
    assert info.value.operation == OP
    assert info.value.code == 9
    assert OP in str(info.value)


async def test_timeout_names_the_operation(client: AnyClient, router: respx.MockRouter) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    poll = router.get(f"/v1/{OP}")
    with pytest.raises(TimeoutError, match=OP) as info:
        await promote(client, timeout=0)
    assert isinstance(info.value, OperationTimeoutError)
    assert info.value.operation == OP
    assert poll.call_count == 0


async def test_begin_promote_with_a_synchronous_reply_is_done(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(json={"model": model()})
    op = await call(
        client.begin_promote_checkpoint(name=CKPT_NAME, output_model_id="my-model", base_model="b")
    )
    assert await call(op.done())
    assert (await call(op.result())).name == model()["name"]
    assert await call(op.exception()) is None


async def test_exception_of_an_operation_done_without_a_response_is_that_failure(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    router.get(f"/v1/{OP}").respond(json=operation(done=True))
    op = await call(
        client.begin_promote_checkpoint(name=CKPT_NAME, output_model_id="my-model", base_model="b")
    )
    failure = await call(op.exception(timeout=60))
    assert isinstance(failure, OperationError)
    with pytest.raises(OperationError) as info:
        await call(op.result(timeout=60))
    assert str(info.value) == str(failure)


@pytest.mark.parametrize("bad", [float("nan"), -1, "60"])
async def test_an_operations_wait_refuses_a_bad_timeout(
    client: AnyClient, router: respx.MockRouter, bad: Any
) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    poll = router.get(f"/v1/{OP}")
    op = await call(
        client.begin_promote_checkpoint(name=CKPT_NAME, output_model_id="my-model", base_model="b")
    )
    with pytest.raises(InvalidArgumentError, match="timeout must be a finite number"):
        await call(op.result(timeout=bad))
    assert poll.call_count == 0


async def test_a_synchronous_reply_of_a_model_still_uploading_is_waited_on(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(json={"model": model(state="UPLOADING")})
    get = router.get(MODEL_PATH).mock(
        side_effect=[
            httpx.Response(200, json=model(state="UPLOADING")),
            httpx.Response(200, json=model()),
        ]
    )
    got = await promote(client)
    assert got.state == "READY"
    assert get.call_count == 2


async def test_begin_promote_returns_the_operation(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(json={"operation": operation()})
    poll = router.get(f"/v1/{OP}").mock(
        side_effect=[
            httpx.Response(200, json=operation()),
            httpx.Response(200, json=operation(done=True, response=model())),
        ]
    )
    op = await call(
        client.begin_promote_checkpoint(name=CKPT_NAME, output_model_id="my-model", base_model="b")
    )
    assert op.name == OP
    assert op.metadata == {"statusMessage": "copying"}
    assert poll.call_count == 0
    assert not await call(op.done())
    assert (await call(op.result(timeout=60))).model_id == "my-model"
    assert poll.call_count == 2


async def test_unexpected_reply(client: AnyClient, router: respx.MockRouter) -> None:
    router.post(PROMOTE).respond(json={"surprise": 1})
    with pytest.raises(Exception, match="unexpected :promote reply"):
        await promote(client)


# Retries of :promote ------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        error(429, "slow down", **{"Retry-After": "3"}),
        error(503, "overloaded", **{"Retry-After": "2"}),
        httpx.ConnectError("refused"),
    ],
    ids=["429", "503-retry-after", "connect-refused"],
)
async def test_retried_when_the_server_surely_did_not_act(
    client: AnyClient, router: respx.MockRouter, first: Any
) -> None:
    route = router.post(PROMOTE).mock(
        side_effect=[first, first, httpx.Response(200, json={"model": model()})]
    )
    await promote(client)
    assert route.call_count == 3
    assert sent(route, 0) == sent(route, 2) == BODY


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
async def test_never_retried(client: AnyClient, router: respx.MockRouter, status: int) -> None:
    route = router.post(PROMOTE).mock(return_value=error(status, "no"))
    with pytest.raises(APIStatusError) as info:
        await promote(client)
    assert info.value.status_code == status
    assert route.call_count == 1


AMBIGUOUS = [
    error(500, "boom"),
    error(502, "bad gateway"),
    error(504, "gateway timeout"),
    error(503, "no retry-after"),
    httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("server disconnected"),
]
AMBIGUOUS_IDS = ["500", "502", "504", "503", "read-timeout", "dropped"]


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=AMBIGUOUS_IDS)
async def test_ambiguous_failures_resent_within_the_retry_budget(
    client: AnyClient, router: respx.MockRouter, failure: Any
) -> None:
    # A 409 on a resend is checked against the checkpoint, so resending is safe; the budget
    # (max_retries) still bounds it.
    route = router.post(PROMOTE).mock(side_effect=[failure] * (DEFAULT_MAX_RETRIES + 3))
    with pytest.raises(APIError) as info:
        await promote(client)
    assert not isinstance(info.value, ConflictError)
    assert route.call_count == DEFAULT_MAX_RETRIES + 1
    assert all(sent(route, i) == BODY for i in range(route.call_count))


async def test_ambiguous_failure_then_success(client: AnyClient, router: respx.MockRouter) -> None:
    route = router.post(PROMOTE).mock(
        side_effect=[error(500, "boom"), httpx.Response(200, json={"model": model()})]
    )
    await promote(client)
    assert route.call_count == 2


@pytest.mark.parametrize(
    "existing",
    [
        model(sourceCheckpoint=CKPT_NAME),
        model(createTime="2020-01-01T00:00:00Z", importedFrom={"checkpoint": CKPT_NAME}),
    ],
    ids=["sourceCheckpoint", "named-elsewhere"],
)
@pytest.mark.parametrize("failure", AMBIGUOUS[::4], ids=AMBIGUOUS_IDS[::4])
async def test_conflict_after_ambiguous_failure_returns_our_model(
    client: AnyClient, router: respx.MockRouter, failure: Any, existing: dict[str, Any]
) -> None:
    route = router.post(PROMOTE).mock(side_effect=[failure, error(409, "model exists")])
    get = router.get(MODEL_PATH).respond(json=existing)
    got = await promote(client)
    assert got.name == existing["name"]
    assert route.call_count == 2
    assert get.call_count == 1
    assert [c.request.method for c in router.calls] == ["POST", "POST", "GET"]


@pytest.mark.parametrize(
    "existing",
    [
        model(sourceCheckpoint=f"accounts/{ACCOUNT}/rlorTrainerJobs/{JOB}/checkpoints/other"),
        model(createTime=(datetime.now(UTC) - timedelta(days=1)).isoformat()),
        model(
            createTime=datetime.now(UTC).isoformat(),
            peftDetails={"baseModel": "accounts/x/models/other"},
        ),
        model(createTime=None),
        # Created just now with our base: maybe another worker's; no evidence, no claim.
        model(createTime=datetime.now(UTC).isoformat()),
        model(
            createTime=datetime.now(UTC).isoformat(),
            peftDetails={"baseModel": BASE_MODEL, "r": 8},
        ),
    ],
    ids=[
        "other-checkpoint",
        "created-yesterday",
        "other-lora-base",
        "no-evidence",
        "created-just-now",
        "same-lora-base",
    ],
)
async def test_conflict_after_ambiguous_failure_from_elsewhere(
    client: AnyClient, router: respx.MockRouter, existing: dict[str, Any]
) -> None:
    router.post(PROMOTE).mock(side_effect=[error(502, "bad gateway"), error(409, "exists")])
    router.get(MODEL_PATH).respond(json={k: v for k, v in existing.items() if v is not None})
    with pytest.raises(ConflictError, match="exists"):
        await promote(client)


async def test_conflict_then_model_missing(client: AnyClient, router: respx.MockRouter) -> None:
    router.post(PROMOTE).mock(side_effect=[error(504, "timeout"), error(409, "exists")])
    router.get(MODEL_PATH).respond(404, json={"error": {"message": "gone"}})
    with pytest.raises(ConflictError):
        await promote(client)


async def test_conflict_on_first_attempt_is_raised(
    client: AnyClient, router: respx.MockRouter
) -> None:
    router.post(PROMOTE).respond(409, json={"error": {"message": "exists"}})
    get = router.get(MODEL_PATH).respond(json=model(sourceCheckpoint=CKPT_NAME))
    with pytest.raises(ConflictError):
        await promote(client)
    assert get.call_count == 0


async def test_max_retries_zero_disables_promote_retries(router: respx.MockRouter) -> None:
    route = router.post(PROMOTE).mock(return_value=error(429, "slow"))
    for flavour in ("sync", "async"):
        made = make_client(flavour, account_id=ACCOUNT, max_retries=0)
        with pytest.raises(APIStatusError):
            await promote(made)
        await call(made.close())
    assert route.call_count == 2


async def test_internal_error_class(client: AnyClient, router: respx.MockRouter) -> None:
    router.post(PROMOTE).mock(return_value=error(500, "boom"))
    with pytest.raises(InternalServerError, match=f"^500 POST {PROMOTE}: boom$"):
        await promote(client)


async def test_a_400_that_echoes_the_request_keeps_async_promotion(
    client: AnyClient, router: respx.MockRouter
) -> None:
    echoed = {
        "error": {
            "code": 400,
            "message": "base_model is not a model",
            "details": [{"request": {"async_promotion": True}}],
        }
    }
    route = router.post(PROMOTE).respond(400, json=echoed)
    with pytest.raises(BadRequestError, match="base_model is not a model"):
        await promote(client)
    assert route.call_count == 1


async def test_a_400_without_a_message_that_echoes_async_promotion_is_not_resent(
    client: AnyClient, router: respx.MockRouter
) -> None:
    echoed = {"error": {"code": 400, "details": [{"echo": {"async_promotion": True}}]}}
    route = router.post(PROMOTE).respond(400, json=echoed)
    with pytest.raises(BadRequestError) as info:
        await promote(client)
    assert len(router.calls) == route.call_count == 1
    assert sent(route) == BODY
    assert info.value.server_message == ""
    assert info.value.body == echoed
