"""The ``*_async`` twins of the trainer clients: their signatures, names and dispatch.

Most twins are derived from their sync method (``AsyncTwin``); these tests pin that every
twin still shows its sync method's parameters, and spell out the few that differ on purpose.
"""

from __future__ import annotations

import inspect
import threading

import pytest
import tinker

from fireworks_training.clients._trainer_twins import AsyncTwin
from fireworks_training.clients.trainer import FiretitanServiceClient, FiretitanTrainingClient

CLASSES = [FiretitanServiceClient, FiretitanTrainingClient]

# Twins whose parameters differ from their sync method's, as the official SDK has them.
DIFFERENT = {
    # save_state(timeout=...) blocks until the save is done: the async twin has no timeout.
    (FiretitanTrainingClient, "save_state_async"): (
        "(self, name: 'str', ttl_seconds: 'int | None' = None, overwrite: 'bool' = False, "
        "user_metadata: 'Mapping[str, str] | None' = None) "
        "-> 'TrainerFuture[tinker.types.SaveWeightsResponse]'"
    ),
    # The official twin has neither tokenizer= nor concurrency_controller=.
    (FiretitanServiceClient, "create_sampling_client_async"): (
        "(self, model_path: 'str | None' = None, base_model: 'str | None' = None, "
        "retry_config: 'Any' = None, deployment_sampler: 'DeploymentSampler | None' = None, "
        "*, training_client: 'FiretitanTrainingClient | None' = None) "
        "-> 'FiretitanSamplingClient'"
    ),
    # Refused whatever the arguments.
    (FiretitanTrainingClient, "save_weights_external_async"): (
        "(self, *args: 'Any', **kwargs: 'Any') -> 'NoReturn'"
    ),
}


def _twins(cls: type) -> list[tuple[str, str]]:
    return [
        (name, name.removesuffix("_async"))
        for name in dir(cls)
        if name.endswith("_async") and not name.startswith("_")
    ]


def test_every_async_twin_is_a_coroutine_function_with_its_sync_methods_parameters() -> None:
    checked = 0
    for cls in CLASSES:
        for twin_name, sync_name in _twins(cls):
            twin = getattr(cls, twin_name)
            assert inspect.iscoroutinefunction(twin), twin_name
            assert twin.__name__ == twin_name
            assert twin.__qualname__ == f"{cls.__name__}.{twin_name}"
            expected = DIFFERENT.get((cls, twin_name))
            if expected is None:
                assert inspect.signature(twin) == inspect.signature(getattr(cls, sync_name))
            else:
                assert str(inspect.signature(twin)) == expected
            checked += 1
    assert checked == 17  # 5 on the service client, 12 on the training client


def test_the_derived_twins_are_those_whose_parameters_are_the_same() -> None:
    derived = {
        (cls.__name__, name)
        for cls in CLASSES
        for name, _ in _twins(cls)
        if isinstance(inspect.getattr_static(cls, name), AsyncTwin)
    }
    assert derived == {
        ("FiretitanServiceClient", "create_lora_training_client_async"),
        ("FiretitanServiceClient", "create_training_client_from_state_async"),
        ("FiretitanServiceClient", "create_training_client_from_state_with_optimizer_async"),
        ("FiretitanServiceClient", "get_server_capabilities_async"),
        ("FiretitanTrainingClient", "create_sampling_client_async"),
        ("FiretitanTrainingClient", "forward_async"),
        ("FiretitanTrainingClient", "forward_backward_async"),
        ("FiretitanTrainingClient", "get_info_async"),
        ("FiretitanTrainingClient", "load_state_async"),
        ("FiretitanTrainingClient", "load_state_with_optimizer_async"),
        ("FiretitanTrainingClient", "optim_step_async"),
        ("FiretitanTrainingClient", "save_weights_for_sampler_async"),
    }


def test_help_shows_the_parameters_and_what_the_twin_does() -> None:
    twin = FiretitanServiceClient.create_training_client_from_state_async
    assert list(inspect.signature(twin).parameters)[:3] == ["self", "path", "user_metadata"]
    assert twin.__doc__ == (
        ":meth:`create_training_client_from_state` from async code (run on a worker thread)."
    )
    assert FiretitanTrainingClient.load_state_async.__doc__ == (
        ":meth:`load_state` from async code (it does not block)."
    )


class _Base:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...], dict[str, object], threading.Thread]] = []

    def wait(self, x: int, *, label: str = "") -> str:
        self.calls.append(("wait", (x,), {"label": label}, threading.current_thread()))
        return f"waited {x}{label}"

    wait_async = AsyncTwin(wait, in_thread=True)

    def queue(self, x: int) -> int:
        self.calls.append(("queue", (x,), {}, threading.current_thread()))
        return x + 1

    queue_async = AsyncTwin(queue, in_thread=False)


class _Override(_Base):
    def queue(self, x: int) -> int:
        return -x


@pytest.mark.anyio
async def test_a_thread_twin_runs_its_method_on_a_worker_thread_with_the_arguments() -> None:
    obj = _Base()
    assert await obj.wait_async(3, label="!") == "waited 3!"
    [(name, args, kwargs, thread)] = obj.calls
    assert (name, args, kwargs) == ("wait", (3,), {"label": "!"})
    assert thread is not threading.current_thread()


@pytest.mark.anyio
async def test_a_loop_twin_calls_its_method_on_the_calling_thread() -> None:
    obj = _Base()
    assert await obj.queue_async(1) == 2
    assert obj.calls[0][3] is threading.current_thread()


@pytest.mark.anyio
async def test_a_twin_calls_the_subclass_override() -> None:
    assert await _Override().queue_async(5) == -5


def test_the_twins_still_override_tinkers() -> None:
    for cls, theirs in [
        (FiretitanServiceClient, tinker.ServiceClient),
        (FiretitanTrainingClient, tinker.TrainingClient),
    ]:
        for name, _ in _twins(theirs):
            assert inspect.getattr_static(cls, name) is not inspect.getattr_static(theirs, name)
