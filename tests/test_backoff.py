"""The one backoff formula behind every retry and poll cadence."""

from __future__ import annotations

import itertools

import pytest

from fireworks_training._backoff import Backoff
from fireworks_training.operations import poll_delays
from fireworks_training.retries import RetryPolicy


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        (Backoff(0.5, 1.5, 10.0), [0.5, 0.75, 1.125, 1.6875, 2.53125]),
        (Backoff(1.0, 2.0, 5.0), [1.0, 2.0, 4.0, 5.0, 5.0]),
        (Backoff(3.0, 1.0), [3.0] * 5),
    ],
)
def test_without_jitter_the_waits_are_exact(backoff: Backoff, expected: list[float]) -> None:
    assert list(itertools.islice(backoff.delays(), 5)) == expected


def test_jitter_adds_at_most_jitter_s_and_never_passes_the_cap() -> None:
    backoff = Backoff(1.0, 2.0, 6.0, jitter_s=0.5)
    for attempt in range(1, 50):
        grown = min(2.0 ** (attempt - 1), 6.0)
        assert grown <= backoff.delay(attempt) <= min(grown + 0.5, 6.0)


def test_a_huge_attempt_number_waits_the_cap() -> None:
    assert Backoff(1.0, 2.0, 30.0).delay(100_000) == 30.0


def test_the_retry_policy_and_operation_polls_use_it() -> None:
    policy = RetryPolicy(initial_wait_s=0.25, max_wait_s=8.0)
    assert policy.backoff == Backoff(0.25, 2.0, 8.0, jitter_s=0.25)
    assert list(itertools.islice(poll_delays(), 3)) == [0.5, 0.75, 1.125]
