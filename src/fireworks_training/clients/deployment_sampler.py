"""``DeploymentSampler``: token-level sampling from a deployment (docs/protocol.md §5).

Token ids in, token ids and logprobs out, over the streamed completions API. ``n``
completions are ``n`` requests of one choice each, sent concurrently (with a ``seed``, the
``i``-th request uses ``seed + i``: repeatable, and not ``n`` copies of one sample). Each
request is retried on its own: up to 7 attempts on connection errors, timeouts, 408, 429,
500, 502, 503, 504 and a cut stream (backoff 2 s doubling to 30 s, jittered, or the
server's ``Retry-After``); and up to 10 attempts 5 s apart while the deployment answers 404
or 425 (it may be starting or swapping weights). The ``x-request-id`` header stays the same
across a request's retries. The methods are coroutines, as the official ones are; use one
event loop per sampler.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import httpx

from .._backoff import Backoff
from .._constants import DEFAULT_TIMEOUT_S
from .._retry import RETRYABLE_STATUSES
from ..errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    InvalidArgumentError,
    ProtocolError,
)
from ._async._base_client import AsyncAPIClient
from ._base_client import Request, bearer
from ._completions import (
    COMPLETIONS_PATH,
    Choice,
    SampledCompletion,
    TruncatedStreamError,
    check_prompt,
    completion_body,
    normalize_stop,
    parse_json_answer,
    parse_stream,
    to_completion,
)

__all__ = ["DeploymentSampler", "SampledCompletion", "SamplingConcurrencyController"]

MAX_ATTEMPTS = 7
NOT_READY_ATTEMPTS = 10
NOT_READY_WAIT_S = 5.0
_BACKOFF = Backoff(2.0, 2.0, 30.0)
_NOT_READY = frozenset({404, 425})


class SamplingConcurrencyController(Protocol):
    """Limits requests in flight: ``await acquire()`` before one, ``release()`` after."""

    async def acquire(self) -> None: ...

    def release(self, metrics: Any = None) -> None: ...


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, APIConnectionError | TruncatedStreamError):
        return True
    return isinstance(exc, APIStatusError) and exc.status_code in RETRYABLE_STATUSES


def _jittered(attempt: int) -> float:
    """The backoff after the ``attempt``-th transient failure, times a factor in [0.5, 1.5)."""
    return _BACKOFF.delay(attempt) * (0.5 + random.random())


class DeploymentSampler(AsyncAPIClient):
    """Samples completions from a deployment: ``model`` is ``accounts/{a}/deployments/{d}``.

    ``tokenizer`` is optional (needed by :meth:`sample_with_tokens` and token-id stops; it
    may be assigned later). ``max_concurrency`` or a ``concurrency_controller`` (an object
    with ``await acquire()`` and ``release()``) bound the requests in flight.
    """

    def __init__(
        self,
        inference_url: str,
        model: str,
        api_key: str | None = None,
        tokenizer: Any = None,
        concurrency_controller: SamplingConcurrencyController | None = None,
        max_concurrency: int | None = None,
        additional_headers: Mapping[str, str] | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT_S,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise InvalidArgumentError(f"model must be a non-empty string, got {model!r}")
        if max_concurrency is not None and (
            isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int)
        ):
            raise InvalidArgumentError(f"max_concurrency must be an int, got {max_concurrency!r}")
        if max_concurrency is not None and max_concurrency < 1:
            raise InvalidArgumentError(f"max_concurrency must be >= 1, got {max_concurrency}")
        super().__init__(
            api_key,
            inference_url,
            timeout=timeout,
            http_client=http_client,
            additional_headers=additional_headers,
        )
        self.model = model.strip()
        self.tokenizer = tokenizer
        self.concurrency_controller = concurrency_controller
        self._slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._max_tokens_zero = True  # until a server refuses max_tokens 0 with echo

    def __repr__(self) -> str:
        return f"DeploymentSampler(inference_url={self.base_url!r}, model={self.model!r})"

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        controller = self.concurrency_controller
        if controller is not None:
            await controller.acquire()
        elif self._slots is not None:
            await self._slots.acquire()
        try:
            yield
        finally:
            if controller is not None:
                controller.release()
            elif self._slots is not None:
                self._slots.release()

    # One request ----------------------------------------------------------------------------

    async def _attempt(self, request: Request, stream: bool) -> list[Choice]:
        async with self._slot():
            response = await self._respond(request)
        if not response.is_success:
            raise self._status_error(response)
        if stream:
            return parse_stream(response.text)
        return parse_json_answer(self._decode(response))

    async def _request(self, body: dict[str, Any]) -> list[Choice]:
        """One logical request, retried as the module says; the last failure raises."""
        headers = {**bearer(self._api_key), "x-request-id": uuid.uuid4().hex}
        request = Request("POST", COMPLETIONS_PATH, json=body, headers=headers)
        transient = not_ready = 0
        while True:
            try:
                return await self._attempt(request, bool(body.get("stream")))
            except APIError as exc:
                if isinstance(exc, APIStatusError) and exc.status_code in _NOT_READY:
                    not_ready += 1
                    if not_ready >= NOT_READY_ATTEMPTS:
                        raise
                    wait = exc.retry_after if exc.retry_after is not None else NOT_READY_WAIT_S
                elif _transient(exc):
                    transient += 1
                    if transient >= MAX_ATTEMPTS:
                        raise
                    asked = exc.retry_after if isinstance(exc, APIStatusError) else None
                    wait = min(asked, _BACKOFF.cap_s) if asked is not None else _jittered(transient)
                else:
                    raise
            await self._retry.async_sleep(wait)

    async def _one(
        self, prompt: list[int], max_tokens: int, temperature: float, fields: Mapping[str, Any]
    ) -> SampledCompletion:
        body = completion_body(
            self.model, prompt, max_tokens=max_tokens, temperature=temperature, extra=fields
        )
        choices = await self._request(body)
        full = temperature == 1 and body.get("top_p", 1.0) == 1 and body.get("top_k", 0) in (0, -1)
        echo = bool(body.get("echo"))
        return to_completion(choices[0], prompt, echo=echo, full_distribution=full)

    # Public ---------------------------------------------------------------------------------

    async def sample_with_prompt_tokens(
        self,
        prompt_token_ids: Sequence[int],
        n: int = 1,
        max_tokens: int = 1024,
        temperature: float = 1.0,
        max_seq_len: int | None = None,
        stop: str | Sequence[str] | Sequence[int] | None = None,
        prompt_cache_key: str | None = None,
        **kwargs: Any,
    ) -> list[SampledCompletion]:
        """``n`` completions of a tokenized prompt (no chat template applied).

        ``kwargs`` go into the request body (``logprobs``, ``echo``, ``top_p``, ``top_k``,
        ``seed``, ...). A prompt of ``max_seq_len`` tokens or more gives ``[]``; a completion
        longer than ``max_seq_len`` in all is left out.
        """
        prompt = check_prompt(prompt_token_ids)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidArgumentError(f"n must be an int >= 1, got {n!r}")
        if max_seq_len is not None and len(prompt) >= max_seq_len:
            return []
        fields = dict(kwargs)
        fields["stop"] = normalize_stop(stop, self.tokenizer)
        fields["prompt_cache_key"] = prompt_cache_key
        seed = fields.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgumentError(f"seed must be an int, got {seed!r}")

        def request_fields(index: int) -> dict[str, Any]:
            return fields if seed is None else {**fields, "seed": seed + index}

        results = await asyncio.gather(
            *(self._one(prompt, max_tokens, temperature, request_fields(i)) for i in range(n))
        )
        if max_seq_len is None:
            return list(results)
        return [c for c in results if len(c.full_tokens) <= max_seq_len]

    async def sample_with_tokens(
        self,
        messages: list[dict[str, str]],
        n: int = 1,
        max_tokens: int = 1024,
        temperature: float = 1.0,
        max_seq_len: int | None = None,
        **kwargs: Any,
    ) -> list[SampledCompletion]:
        """``n`` completions of chat ``messages``, tokenized with the tokenizer's template."""
        if self.tokenizer is None:
            raise InvalidArgumentError("sample_with_tokens needs a tokenizer (tokenizer=...)")
        prompt = self.tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=False
        )
        return await self.sample_with_prompt_tokens(
            list(prompt), n, max_tokens, temperature, max_seq_len, **kwargs
        )

    async def prompt_logprobs(self, prompt_token_ids: Sequence[int]) -> list[float]:
        """The model's logprob of each prompt token after the first, without sampling one.

        Sends ``max_tokens`` 0 with ``echo``; a server that refuses that (a 400 naming
        ``max_tokens``) is asked for one token from then on, which is then ignored.
        """
        prompt = check_prompt(prompt_token_ids)
        fields = {"logprobs": True, "echo": True}
        if self._max_tokens_zero:
            try:
                completion = await self._one(prompt, 0, 1.0, fields)
            except APIStatusError as exc:
                if exc.status_code != 400 or "max_tokens" not in exc.server_message:
                    raise
                self._max_tokens_zero = False
            else:
                return _prompt_rows(completion, prompt)
        return _prompt_rows(await self._one(prompt, 1, 1.0, fields), prompt)


def _prompt_rows(completion: SampledCompletion, prompt: list[int]) -> list[float]:
    rows = completion.inference_logprobs
    if rows is None or len(rows) < len(prompt) - 1:
        raise ProtocolError(
            f"200 POST {COMPLETIONS_PATH}: no logprobs for the {len(prompt)} prompt tokens"
        )
    return rows[: len(prompt) - 1]
