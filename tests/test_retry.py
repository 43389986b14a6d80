"""The shared retry policy: what is retried, how long it waits, how often it tries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fireworks_training._retry import (
    RetryPolicy,
    is_retryable,
    parse_retry_after,
    surely_not_acted,
)
from fireworks_training.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    status_error_class,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def status(code: int, retry_after: float | None = None) -> APIStatusError:
    return status_error_class(code)(f"{code} GET /x: no", status_code=code, retry_after=retry_after)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("2.5", 2.5),
        ("  7 ", 7.0),
        ("60", 60.0),
        ("61", 60.0),
        ("3600", 60.0),
        ("-5", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW + timedelta(hours=2), usegmt=True), 60.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Thu, 01 Jan 2026 12:00:10", 10.0),  # no zone: read as UTC
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("error", "retryable", "not_acted"),
    [
        (APIConnectionError("refused", request_sent=False), True, True),
        (APIConnectionError("reset", request_sent=True), True, False),
        (APITimeoutError("connect timeout", request_sent=False), True, True),
        (APITimeoutError("read timeout", request_sent=True), True, False),
        (status(408), True, False),
        (status(429), True, True),
        (status(500), True, False),
        (status(502), True, False),
        (status(503), True, False),
        (status(503, retry_after=1.0), True, True),
        (status(504), True, False),
        (status(400), False, False),
        (status(401), False, False),
        (status(403), False, False),
        (status(404), False, False),
        (status(409), False, False),
        (status(501), False, False),
        (ValueError("x"), False, False),
    ],
)
def test_classification(error: BaseException, retryable: bool, not_acted: bool) -> None:
    assert is_retryable(error) is retryable
    assert surely_not_acted(error) is not_acted


class Flaky:
    """Fails with ``errors`` in turn, then returns "ok"; counts attempts."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def acall(self) -> str:
        return self()


def policy(sleeps: list[float], **kwargs: float) -> RetryPolicy:
    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return RetryPolicy(sleep=sleeps.append, async_sleep=async_sleep, **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_retries_then_succeeds(flavour: str) -> None:
    sleeps: list[float] = []
    flaky = Flaky(status(503), APIConnectionError("reset"), status(429, retry_after=4.0))
    retry = policy(sleeps)
    result = retry.call(flaky) if flavour == "sync" else await retry.acall(flaky.acall)
    assert result == "ok"
    assert flaky.attempts == 4
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 1.5
    assert sleeps[2] == 4.0  # Retry-After wins over backoff


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 501])
async def test_never_retried(flavour: str, code: int) -> None:
    sleeps: list[float] = []
    flaky = Flaky(status(code))
    retry = policy(sleeps)
    with pytest.raises(APIStatusError) as info:
        retry.call(flaky) if flavour == "sync" else await retry.acall(flaky.acall)
    assert info.value.status_code == code
    assert flaky.attempts == 1
    assert sleeps == []


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_attempts_are_bounded(max_retries: int) -> None:
    sleeps: list[float] = []
    flaky = Flaky(*[status(500)] * 10)
    with pytest.raises(APIStatusError):
        policy(sleeps, max_retries=max_retries).call(flaky)
    assert flaky.attempts == max_retries + 1
    assert len(sleeps) == max_retries


def test_backoff_is_exponential_and_capped() -> None:
    sleeps: list[float] = []
    flaky = Flaky(*[status(502)] * 8)
    with pytest.raises(APIStatusError):
        policy(sleeps, max_retries=7, initial_wait_s=1.0, max_wait_s=10.0).call(flaky)
    for n, waited in enumerate(sleeps):
        assert min(2.0**n, 10.0) <= waited <= min(2.0**n + 1.0, 10.0)


def test_other_predicate() -> None:
    sleeps: list[float] = []
    flaky = Flaky(status(500))
    retry = policy(sleeps).with_predicate(surely_not_acted)
    with pytest.raises(APIStatusError):
        retry.call(flaky)
    assert flaky.attempts == 1


@pytest.mark.parametrize(("field", "value"), [("max_retries", -1), ("deadline_s", 0)])
def test_invalid_policy(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


class FakeTime:
    """A clock that moves only when slept on or when an attempt takes time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[tuple[float, float]] = []  # (when, how long)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((self.now, seconds))
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_retry_after_past_the_deadline_ends_the_call(flavour: str) -> None:
    fake = FakeTime()
    fake.now = 1000.0  # the deadline runs from the first attempt, not from clock zero
    starts: list[float] = []

    def attempt() -> str:
        starts.append(fake.now)
        fake.now += 1.0  # each attempt takes a second
        raise status(429, retry_after=60.0)

    async def aattempt() -> str:
        return attempt()

    retry = RetryPolicy(
        max_retries=50,
        deadline_s=100.0,
        sleep=fake.sleep,
        async_sleep=fake.async_sleep,
        clock=lambda: fake.now,
    )
    with pytest.raises(APIStatusError) as info:
        retry.call(attempt) if flavour == "sync" else await retry.acall(aattempt)
    # 60 s as asked; then 38 s are left, less than the 60 s asked: no attempt the server
    # said it would refuse, the last error is raised at once.
    assert fake.sleeps == [(1001.0, 60.0)]
    assert starts == [1000.0, 1061.0]
    assert info.value.status_code == 429


@pytest.mark.anyio
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_deadline_stops_attempts_and_cuts_backoff_waits(flavour: str) -> None:
    fake = FakeTime()
    fake.now = 1000.0
    starts: list[float] = []

    def attempt() -> str:
        starts.append(fake.now)
        fake.now += 1.0
        raise status(503)  # no Retry-After: our own backoff

    async def aattempt() -> str:
        return attempt()

    retry = RetryPolicy(
        max_retries=50,
        deadline_s=100.0,
        initial_wait_s=60.0,
        max_wait_s=60.0,
        sleep=fake.sleep,
        async_sleep=fake.async_sleep,
        clock=lambda: fake.now,
    )
    with pytest.raises(APIStatusError):
        retry.call(attempt) if flavour == "sync" else await retry.acall(aattempt)
    # 60 s of backoff, then only the 38 s left: the last attempt starts at the deadline.
    assert fake.sleeps == [(1001.0, 60.0), (1062.0, 38.0)]
    assert starts == [1000.0, 1061.0, 1100.0]


def test_a_reused_controller_restarts_its_deadline() -> None:
    fake = FakeTime()
    retry = RetryPolicy(deadline_s=10.0, sleep=fake.sleep, clock=lambda: fake.now)
    controller = retry.retrying()
    fake.now = 500.0  # long after the controller was made
    flaky = Flaky(status(503, retry_after=4.0), status(503, retry_after=4.0))
    assert controller(flaky) == "ok"
    assert fake.sleeps == [(500.0, 4.0), (504.0, 4.0)]
