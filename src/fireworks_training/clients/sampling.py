"""``FiretitanSamplingClient``: tinker's ``SamplingClient`` over a deployment (docs/protocol.md §5).

``sample`` and ``compute_logprobs`` return ``concurrent.futures.Future``\\ s (as the official
client does), ``*_async`` are coroutines; the requests run on one background event loop.

**Pinned to its snapshot.** A client made for a snapshot (``create_sampling_client(model_path)``)
knows its identity and refuses to sample once it is no longer what the deployment serves:
a request that starts, or finishes, after this process loaded another snapshot onto the
deployment raises :class:`~fireworks_training.errors.StaleSnapshotError` instead of
returning tokens of other weights under the old name. That check needs no request;
:meth:`check_snapshot` asks every replica. A client made without a snapshot samples
whatever the deployment serves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import tinker

from .._closing import Closing
from ..errors import (
    InvalidArgumentError,
    ProtocolError,
    SamplingClientClosedError,
    StaleSnapshotError,
)
from ._weight_sync_rules import ChainState, ReplicaStatus, served_by_all
from .deployment_sampler import DeploymentSampler, SamplingConcurrencyController

__all__ = ["FiretitanSamplingClient", "SnapshotPin"]

T = TypeVar("T")
DEFAULT_MAX_TOKENS = 1024
DRAIN_TIMEOUT_S = 3600.0


class _Loop:
    """The event loop every sampling client's requests run on (a daemon thread)."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="fireworks-sampling", daemon=True
                )
                thread.start()
                cls._loop = loop
            return cls._loop


@dataclass(frozen=True)
class SnapshotPin:
    """The snapshot a sampling client was made for, and how to tell it is still served.

    ``state`` is this process's view of the deployment (updated by every sync and by every
    ``DeploymentManager.hotload*`` call of this process);
    ``read_replicas`` reads every replica's status now.
    """

    identity: str
    deployment_id: str
    state: ChainState
    read_replicas: Callable[[], list[ReplicaStatus]] | None = None

    def check(self) -> None:
        """Raise when this process has since loaded, or is loading, another snapshot (no
        request): replicas may serve a load before this process's wait sees it."""
        state = self.state
        if state.loaded != self.identity:
            raise self._stale(state.loaded)
        attempted = state.attempted
        if state.loading and attempted is not None and attempted.identity != self.identity:
            raise self._stale(attempted.identity, "is loading")

    def _stale(self, served: str | None, doing: str = "serves") -> StaleSnapshotError:
        now = repr(served) if served else "no common snapshot"
        return StaleSnapshotError(
            f"this sampling client is pinned to {self.identity!r}; deployment "
            f"{self.deployment_id!r} {doing} {now}: create a sampling client for it",
            category="stale",
            identity=self.identity,
            deployment_id=self.deployment_id,
        )


def _params(sampling_params: Any) -> dict[str, Any]:
    """The fields of a tinker ``SamplingParams`` (any release) the wire takes."""
    if sampling_params is None:
        raise InvalidArgumentError("sampling_params is required (tinker.SamplingParams)")
    read = {k: getattr(sampling_params, k, None) for k in ("max_tokens", "seed", "stop", "top_p")}
    read["temperature"] = getattr(sampling_params, "temperature", 1.0)
    read["top_k"] = getattr(sampling_params, "top_k", -1)
    return read


def _prompt_tokens(prompt: Any) -> list[int]:
    chunks = getattr(prompt, "chunks", None)
    if chunks is not None and not all(
        isinstance(c, tinker.types.EncodedTextChunk) or getattr(c, "type", None) == "encoded_text"
        for c in chunks
    ):
        raise InvalidArgumentError("sampling takes token (encoded_text) prompts only")
    to_ints = getattr(prompt, "to_ints", None)
    if to_ints is None:
        raise InvalidArgumentError(
            f"prompt must be a tinker ModelInput, got {type(prompt).__name__}"
        )
    return list(to_ints())


_SEQUENCE_FIELDS = {f.name for f in dataclasses.fields(tinker.types.SampledSequence)}


def _sequence(stop_reason: str, tokens: list[int], logprobs: list[float], index: int) -> Any:
    """A tinker ``SampledSequence``; newer releases also want a ``sequence_id``."""
    fields: dict[str, Any] = {
        "stop_reason": stop_reason,
        "_tokens_list": tokens,
        "_logprobs_list": logprobs,
    }
    if "sequence_id" in _SEQUENCE_FIELDS:
        fields["sequence_id"] = str(index)
    return tinker.types.SampledSequence(**fields)


class FiretitanSamplingClient(Closing):
    """Samples and scores prompts on a deployment, in tinker's ``SamplingClient`` shape.

    ``deployment_sampler`` is the :class:`~.deployment_sampler.DeploymentSampler` underneath
    (the official attribute); closing the client closes it. ``pin`` ties the client to one
    snapshot (see the module).
    """

    def __init__(
        self,
        deployment_sampler: DeploymentSampler,
        *,
        pin: SnapshotPin | None = None,
        base_model: str | None = None,
    ) -> None:
        if not isinstance(deployment_sampler, DeploymentSampler):
            raise InvalidArgumentError(
                f"deployment_sampler must be a DeploymentSampler, got {deployment_sampler!r}"
            )
        self.deployment_sampler = deployment_sampler
        self._pin = pin
        self._base_model = base_model
        self._loop = _Loop.get()
        self._lock = threading.Lock()
        self._closed = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def create(
        cls,
        *,
        inference_url: str,
        model: str,
        api_key: str | None = None,
        tokenizer: Any = None,
        concurrency_controller: SamplingConcurrencyController | None = None,
        max_concurrency: int | None = None,
        additional_headers: dict[str, str] | None = None,
    ) -> FiretitanSamplingClient:
        """A client and its sampler for ``model`` (``accounts/{a}/deployments/{d}``), unpinned."""
        sampler = DeploymentSampler(
            inference_url,
            model,
            api_key,
            tokenizer,
            concurrency_controller,
            max_concurrency,
            additional_headers,
        )
        return cls(sampler)

    @property
    def snapshot_identity(self) -> str | None:
        """The snapshot this client samples (None: whatever the deployment serves)."""
        return self._pin.identity if self._pin is not None else None

    def __repr__(self) -> str:
        return (
            f"FiretitanSamplingClient(model={self.deployment_sampler.model!r}, "
            f"snapshot={self.snapshot_identity!r})"
        )

    # Running requests -------------------------------------------------------------------

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._closed:
                coro.close()
                raise SamplingClientClosedError("the sampling client is closed")
            future = asyncio.run_coroutine_threadsafe(self._tracked(coro), self._loop)
            self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    async def _tracked(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            return await coro
        except asyncio.CancelledError:
            if self._closed:
                raise SamplingClientClosedError(
                    "the sampling client was closed while this request ran"
                ) from None
            raise
        finally:
            self._tasks.discard(task)

    def _check_pin(self) -> None:
        if self._pin is not None:
            self._pin.check()

    # Sampling -----------------------------------------------------------------------------

    async def _sample(
        self,
        prompt: Any,
        num_samples: int,
        sampling_params: Any,
        include_prompt_logprobs: bool,
    ) -> tinker.types.SampleResponse:
        self._check_pin()
        tokens = _prompt_tokens(prompt)
        params = _params(sampling_params)
        fields: dict[str, Any] = {"logprobs": True, "seed": params["seed"]}
        if include_prompt_logprobs:
            fields["echo"] = True
        if params["top_p"] is not None:
            fields["top_p"] = params["top_p"]
        if params["top_k"] is not None and params["top_k"] >= 0:
            fields["top_k"] = params["top_k"]
        completions = await self.deployment_sampler.sample_with_prompt_tokens(
            tokens,
            n=num_samples,
            max_tokens=params["max_tokens"] or DEFAULT_MAX_TOKENS,
            temperature=params["temperature"],
            stop=params["stop"],
            **fields,
        )
        self._check_pin()  # a sync that finished meanwhile may have swapped the weights
        sequences = []
        prompt_logprobs: list[float | None] | None = None
        for index, completion in enumerate(completions):
            skip = len(tokens) - 1 if completion.logprobs_echoed else 0
            sampled = (completion.sampling_logprobs or [])[skip:]
            generated = completion.completion_tokens
            if len(sampled) != len(generated) or any(x is None for x in sampled):
                raise ProtocolError(
                    "the deployment sent no sampling logprob for some generated tokens"
                )
            reason = "length" if completion.finish_reason == "length" else "stop"
            sequences.append(
                _sequence(reason, generated, [float(x or 0.0) for x in sampled], index)
            )
            if include_prompt_logprobs and prompt_logprobs is None:
                raw = completion.inference_logprobs or []
                prompt_logprobs = [None, *raw[: len(tokens) - 1]]
        return tinker.types.SampleResponse(
            sequences=sequences, _prompt_logprobs_list=prompt_logprobs
        )

    def sample(
        self,
        prompt: Any,
        num_samples: int,
        sampling_params: Any,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        *,
        images: list[str] | None = None,
    ) -> concurrent.futures.Future[tinker.types.SampleResponse]:
        """``num_samples`` completions of ``prompt`` (a tinker ``ModelInput``); a future.

        Each sequence's ``logprobs`` are the sampling distribution's; with
        ``include_prompt_logprobs`` the response's ``prompt_logprobs`` are the model's for
        each prompt token (the first is None). ``stop`` may be a string (one stop).
        """
        if topk_prompt_logprobs:
            raise NotImplementedError("topk_prompt_logprobs is not supported by deployments")
        if images:
            raise NotImplementedError("image prompts are not supported")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise InvalidArgumentError(f"num_samples must be an int >= 1, got {num_samples!r}")
        _params(sampling_params)
        return self._submit(
            self._sample(prompt, num_samples, sampling_params, include_prompt_logprobs)
        )

    async def sample_async(
        self,
        prompt: Any,
        num_samples: int,
        sampling_params: Any,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        *,
        images: list[str] | None = None,
    ) -> tinker.types.SampleResponse:
        """Same as :meth:`sample`, awaited."""
        future = self.sample(
            prompt,
            num_samples,
            sampling_params,
            include_prompt_logprobs,
            topk_prompt_logprobs,
            images=images,
        )
        return await asyncio.wrap_future(future)

    async def _compute_logprobs(self, prompt: Any) -> list[float | None]:
        self._check_pin()
        tokens = _prompt_tokens(prompt)
        rows = await self.deployment_sampler.prompt_logprobs(tokens)
        self._check_pin()
        return [None, *rows]

    def compute_logprobs(self, prompt: Any) -> concurrent.futures.Future[list[float | None]]:
        """The model's logprob of each token of ``prompt`` (the first is None); a future.

        No token is sampled where the deployment allows it (``max_tokens`` 0 with echo).
        """
        _prompt_tokens(prompt)
        return self._submit(self._compute_logprobs(prompt))

    async def compute_logprobs_async(self, prompt: Any) -> list[float | None]:
        """Same as :meth:`compute_logprobs`, awaited."""
        return await asyncio.wrap_future(self.compute_logprobs(prompt))

    def check_snapshot(self) -> str | None:
        """Ask every replica whether they all serve the pinned snapshot; returns it.

        Raises :class:`StaleSnapshotError` when they do not, and ``InvalidArgumentError`` on
        a client that is not pinned.
        """
        pin = self._pin
        if pin is None or pin.read_replicas is None:
            raise InvalidArgumentError("this sampling client is not pinned to a snapshot")
        served = served_by_all(pin.read_replicas())
        if served != pin.identity:
            raise pin._stale(served)
        return served

    # tinker's other methods ---------------------------------------------------------------

    def get_tokenizer(self) -> Any:
        """The sampler's tokenizer; a ``ValueError`` when it has none."""
        if self.deployment_sampler.tokenizer is None:
            raise InvalidArgumentError("this sampling client has no tokenizer")
        return self.deployment_sampler.tokenizer

    def get_base_model(self) -> str:
        """The base model when known, else the deployment's name (what the official returns)."""
        return self._base_model or self.deployment_sampler.model

    async def get_base_model_async(self) -> str:
        """Same as :meth:`get_base_model`."""
        return self.get_base_model()

    def get_telemetry(self) -> None:
        """No telemetry is kept (tinker's hook): always None."""

    # Lifetime -------------------------------------------------------------------------------

    def close(self, drain_timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Take no new requests; those in flight finish (for up to ``drain_timeout_s``).

        With requests in flight this returns at once and they drain in the background;
        those still running at the end fail with ``SamplingClientClosedError``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending)
        if pending and drain_timeout_s > 0:
            threading.Thread(
                target=self._drain, args=(pending, drain_timeout_s), daemon=True
            ).start()
        else:
            self._shutdown()

    def _drain(self, pending: list[concurrent.futures.Future[Any]], timeout: float) -> None:
        concurrent.futures.wait(pending, timeout=timeout)
        self._shutdown()

    def _shutdown(self) -> None:
        async def stop() -> None:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.deployment_sampler.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result()
