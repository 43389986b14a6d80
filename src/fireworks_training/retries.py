"""Retry and polling knobs that client constructors take.

``RetryPolicy`` (every client: ``retry_policy=``, or ``max_retries=`` for the default one) and
``PollTuning`` (trainer clients: ``poll_tuning=``), with the predicates a policy retries on.
What is retried and why is described in docs/errors.md and docs/protocol.md §1.6 and §2.5.
"""

from __future__ import annotations

from ._retry import RETRYABLE_STATUSES, PollTuning, RetryPolicy, is_retryable, surely_not_acted

__all__ = ["RETRYABLE_STATUSES", "PollTuning", "RetryPolicy", "is_retryable", "surely_not_acted"]
