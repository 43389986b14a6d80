"""The exception tree of fireworks-training.

Runtime failures::

    FireworksError (RuntimeError)
    ├── APIError
    │   ├── APIStatusError            an HTTP status the call cannot succeed with
    │   │   ├── BadRequestError       400
    │   │   ├── AuthenticationError   401
    │   │   ├── PermissionDeniedError 403
    │   │   ├── NotFoundError         404
    │   │   ├── ConflictError         409
    │   │   ├── GoneError             410 (an expired trainer future)
    │   │   ├── RateLimitError        429
    │   │   └── InternalServerError   5xx
    │   ├── APIConnectionError        no HTTP answer
    │   │   └── APITimeoutError       (also a TimeoutError)
    │   └── ProtocolError             a reply that is not what the protocol says
    ├── ClientClosedError             the client (or its http_client) was closed
    ├── OperationError                a long-running operation finished with an error
    ├── OperationTimeoutError         waiting for an operation ran out (also a TimeoutError)
    ├── RequestFailedError            a trainer future finished with an error
    ├── AccountResolutionError        the API key's account could not be determined
    ├── TrainerJobError               a trainer job is in a state the call cannot go on from
    ├── TrainerJobTimeoutError        waiting for a trainer job ran out (also a TimeoutError)
    ├── CheckpointNotFoundError       nothing on the server matches what was asked for
    ├── CheckpointExistsError         a save would replace a checkpoint the server holds
    ├── LedgerStorageError            the storage behind log_path failed a read or a write
    ├── LogPathInUseError             another training loop writes to the same log_path
    └── (deployments, weight sync and sampling: see the section at the end of this module)

with two refinements of ``APIStatusError`` and ``ProtocolError``: ``ModelDetailsUnavailableError``
(``model_is_moe`` could not read the model) and ``TruncatedStreamError`` (a completion stream
that ended early; retried).

Bad input, raised before any request is sent::

    InvalidArgumentError (ValueError)
    ├── InvalidNameError              a resource name or checkpoint name off its grammar
    ├── InvalidModelIdError           an output model id off its grammar
    ├── InvalidReferenceError         a load reference or init_from_checkpoint off its grammar
    └── LogPathError                  log_path cannot hold a ledger
        └── MissingExtraError         a log_path URL needs a package (also an ImportError)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AccountResolutionError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointExistsError",
    "CheckpointNotFoundError",
    "ClientClosedError",
    "ConflictError",
    "FireworksError",
    "GoneError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidModelIdError",
    "InvalidNameError",
    "InvalidReferenceError",
    "LedgerStorageError",
    "LogPathError",
    "LogPathInUseError",
    "MissingExtraError",
    "ModelDetailsUnavailableError",
    "NotFoundError",
    "OperationError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RequestFailedError",
    "TrainerJobError",
    "TrainerJobTimeoutError",
    "TruncatedStreamError",
    "status_error_class",
]


class FireworksError(RuntimeError):
    """Base of every runtime failure raised by this library."""


class APIError(FireworksError):
    """A request to a Fireworks service failed."""


def _one_line(text: str) -> str:
    """``text`` with every whitespace run (newlines too) collapsed to one space."""
    return " ".join(text.split())


def _strip_prefix(message: str, prefix: str) -> str:
    return message.removeprefix(prefix).lstrip() if message.startswith(prefix) else message


class APIStatusError(APIError):
    """The server answered with a status the call cannot succeed with.

    ``message`` (and ``str()``) is one line, ``"{status} {METHOD} {path}: {server message}"``;
    ``server_message`` is the server's own text alone (``""`` for a JSON body without one).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str = "",
        path: str = "",
        request_id: str | None = None,
        reason: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
        server_message: str | None = None,
    ) -> None:
        message = _one_line(message)
        super().__init__(message)
        self.message = message
        self.server_message = (
            _one_line(server_message)
            if server_message is not None
            else _strip_prefix(message, f"{status_code} {method} {path}:")
        )
        self.status_code = status_code
        self.method = method
        self.path = path
        self.request_id = request_id
        self.reason = reason
        self.body = body
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: the server rejected the request."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the API key has no access to the resource."""


class NotFoundError(APIStatusError):
    """404: the resource does not exist for this account."""


class ConflictError(APIStatusError):
    """409: the resource already exists or is in a conflicting state."""


class GoneError(APIStatusError):
    """410: the resource existed but has expired."""


class RateLimitError(APIStatusError):
    """429: too many requests."""


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class ModelDetailsUnavailableError(APIStatusError):
    """``model_is_moe`` could not read the model (``status_code``: 403/404 = not visible)."""


class APIConnectionError(APIError):
    """The request got no HTTP answer (refused, reset, DNS, TLS), or no whole one in time.

    ``request_sent`` is False only when the connection failed before anything was sent,
    so the server surely did not act.
    """

    def __init__(
        self, message: str, *, request_sent: bool = True, method: str = "", path: str = ""
    ) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.method = method
        self.path = path


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request's deadline passed before its whole answer arrived."""


class ProtocolError(APIError):
    """A reply that is not what the protocol says.

    A 2xx that is not a JSON object or not of the documented shape, a reply larger than the
    client accepts, a redirect to another origin, a listing whose pages never end.
    ``message`` is one line, ``"{status} {METHOD} {path}: {what is wrong}"``.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, method: str = "", path: str = ""
    ) -> None:
        message = _one_line(message)
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.method = method
        self.path = path


class TruncatedStreamError(ProtocolError):
    """The event stream ended before a choice had its ``finish_reason`` (retried)."""


class ClientClosedError(FireworksError):
    """The client was used after ``close()`` (or its ``http_client`` was closed)."""


class OperationError(FireworksError):
    """A long-running operation finished with an error."""

    def __init__(self, message: str, *, operation: str, code: int | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


class OperationTimeoutError(FireworksError, TimeoutError):
    """Waiting for a long-running operation ran out; the operation itself goes on."""

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message)
        self.operation = operation


class RequestFailedError(FireworksError):
    """A trainer future finished with an error; ``category`` is user, server or unknown."""

    def __init__(self, message: str, *, category: str = "unknown", request_id: str = "") -> None:
        super().__init__(message)
        self.category = category
        self.request_id = request_id


class AccountResolutionError(FireworksError):
    """The API key does not map to exactly one account; pass ``account_id=``."""


class _TrainerJobStateError(FireworksError):
    """A trainer job (``job``, its full name) was last seen in ``state``."""

    def __init__(self, message: str, *, job: str, state: str) -> None:
        super().__init__(message)
        self.job = job
        self.state = state


class TrainerJobError(_TrainerJobStateError):
    """A trainer job is in a state the call cannot go on from (deleted, failed again)."""


class TrainerJobTimeoutError(_TrainerJobStateError, TimeoutError):
    """Waiting for a trainer job to be ready ran out; the job itself goes on."""


class CheckpointNotFoundError(FireworksError):
    """No checkpoint on the server matches what was asked for."""


class CheckpointExistsError(FireworksError):
    """A save would replace a checkpoint the server holds; nothing was sent."""


class LedgerStorageError(FireworksError):
    """A read or write of the run's records failed on its storage."""


class LogPathInUseError(FireworksError):
    """Another training loop holds (or took over) the run's ``log_path``."""


class InvalidArgumentError(ValueError):
    """Bad input, found before any request was sent."""


class InvalidNameError(InvalidArgumentError):
    """A name does not match its grammar; ``expected`` holds the pattern."""

    def __init__(self, message: str, *, value: object, expected: str) -> None:
        super().__init__(message)
        self.value = value
        self.expected = expected


class InvalidModelIdError(InvalidArgumentError):
    """An output model id does not match its grammar; ``problems`` lists every issue."""

    def __init__(self, message: str, *, value: object, problems: list[str]) -> None:
        super().__init__(message)
        self.value = value
        self.problems = problems


class InvalidReferenceError(InvalidArgumentError):
    """A checkpoint reference (load path, init_from_checkpoint) is malformed."""

    def __init__(self, message: str, *, value: object) -> None:
        super().__init__(message)
        self.value = value


class LogPathError(InvalidArgumentError):
    """``log_path`` is not a usable run directory (a file, dangling, read-only, ...)."""


class MissingExtraError(LogPathError, ImportError):
    """A ``log_path`` URL needs fsspec (or its scheme's package), which is not installed."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The error class for an HTTP status code."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIStatusError)


# Deployments, weight sync and sampling ---------------------------------------------------
#
#   FireworksError
#   ├── DeploymentError              a deployment is missing, in a state the call cannot go on
#   │   │                            from, or not the one a config describes
#   │   └── DeploymentTimeoutError   waiting for a deployment ran out (also a TimeoutError)
#   ├── WeightSyncError              a snapshot could not be put on a deployment, or a sampler
#   │   │                            pinned to one no longer has it; ``category`` says why
#   │   ├── HotLoadError             the deployment refused the signal or failed the load
#   │   ├── HotLoadTimeoutError      not every replica served the snapshot in time
#   │   ├── SnapshotChainError       refused before sending: the delta cannot apply
#   │   └── StaleSnapshotError       a pinned sampler's snapshot is no longer served
#   └── SamplingClientClosedError    a sampling request on (or cut short by) a closed client

__all__ += [
    "DeploymentError",
    "DeploymentTimeoutError",
    "HotLoadError",
    "HotLoadTimeoutError",
    "SamplingClientClosedError",
    "SnapshotChainError",
    "StaleSnapshotError",
    "WeightSyncError",
]


class DeploymentError(FireworksError):
    """A deployment (``deployment_id``) is missing, in an unusable ``state``, or mismatched."""

    def __init__(self, message: str, *, deployment_id: str, state: str | None = None) -> None:
        super().__init__(message)
        self.deployment_id = deployment_id
        self.state = state


class DeploymentTimeoutError(DeploymentError, TimeoutError):
    """Waiting for a deployment ran out; the deployment itself goes on."""


class WeightSyncError(FireworksError):
    """A snapshot could not be put on a deployment, or is no longer served there.

    ``category`` is one of ``signal`` (the hot-load request was refused), ``status`` (the
    status request was refused: the deployment is gone, the key has no access), ``load`` (a
    replica failed to load it), ``timeout`` (not every replica served it in time),
    ``not_ready`` (no replica came up to take it), ``chain`` (a delta that cannot apply;
    nothing was sent), ``stale`` (a pinned sampler's snapshot was replaced), ``protocol``
    (a status answer off the protocol), ``warmup`` or ``no_deployment``. ``identity`` is the
    snapshot, ``deployment_id`` the deployment, ``server_message`` the server's own text
    (``""`` when none), ``status_code`` the HTTP status of a refused request.
    """

    def __init__(
        self,
        message: str,
        *,
        category: str,
        identity: str | None = None,
        deployment_id: str | None = None,
        server_message: str = "",
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.category = category
        self.identity = identity
        self.deployment_id = deployment_id
        self.server_message = server_message
        self.status_code = status_code


class HotLoadError(WeightSyncError):
    """The deployment refused a hot-load signal (``signal``) or failed the load (``load``)."""


class HotLoadTimeoutError(WeightSyncError, TimeoutError):
    """Not every replica served the snapshot in time; a load may still finish later."""


class SnapshotChainError(WeightSyncError):
    """A delta cannot be loaded on what the deployment serves; nothing was sent."""


class StaleSnapshotError(WeightSyncError):
    """A sampling client pinned to a snapshot found the deployment serving another one."""


class SamplingClientClosedError(FireworksError):
    """The sampling client was closed before (or while) this request ran."""
