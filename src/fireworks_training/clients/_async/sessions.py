"""Checkpoints of serverless training sessions and of managed SFT and DPO jobs.

The same listing and promotion as for trainer jobs (docs/protocol.md §1.2, §1.3), under other
parents: ``accounts/{a}/trainingSessions/{s}``, ``accounts/{a}/supervisedFineTuningJobs/{j}``
and ``accounts/{a}/dpoJobs/{j}``; ``:promote`` is sent to the checkpoint's own name
(docs/protocol.md §1.7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..._async.pagination import AsyncPager
from ..._base_operation import check_wait
from ..._constants import LIST_PAGE_SIZE
from ..._constants import PROMOTE_DEFAULT_TIMEOUT_S as _PROMOTE_TIMEOUT_S
from ..._paging import Page
from ..._retry import surely_not_acted
from ...checkpoints.names import require_output_model_id
from ...checkpoints.types import CheckpointRow, Model
from ...errors import InvalidArgumentError, NotFoundError
from .._base_client import Request
from .._promotion import model_from_response, parse_promote_reply, still_uploading
from .checkpoints import check_page_size, next_page_token, wrap_rows
from .models import AsyncModelWaits

__all__ = [
    "SESSION_FORM",
    "TRAINING_JOB_FORM",
    "AsyncSessions",
    "check_parent",
    "list_rows_request",
    "parse_rows_page",
    "promote_named_request",
]

_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
SESSION_FORM = "accounts/<account>/trainingSessions/<session>"
TRAINING_JOB_FORM = "accounts/<account>/(supervisedFineTuningJobs|dpoJobs)/<job>"
_SESSION = rf"accounts/{_ID}/trainingSessions/{_ID}"
_TRAINING_JOB = rf"accounts/{_ID}/(?:supervisedFineTuningJobs|dpoJobs)/{_ID}"
_PARENTS = {
    SESSION_FORM: re.compile(rf"^{_SESSION}\Z"),
    TRAINING_JOB_FORM: re.compile(rf"^{_TRAINING_JOB}\Z"),
}
_CHECKPOINTS = {
    SESSION_FORM: re.compile(rf"^{_SESSION}/checkpoints/{_ID}\Z"),
    TRAINING_JOB_FORM: re.compile(rf"^{_TRAINING_JOB}/checkpoints/{_ID}\Z"),
}
# Where each kind of parent's reply puts its rows, in the order they are looked for.
_ROW_KEYS = {
    SESSION_FORM: ("trainingSessionCheckpoints", "training_session_checkpoints", "checkpoints"),
    TRAINING_JOB_FORM: ("checkpoints",),
}
# Managed jobs' :promote may answer with an operation; a session's answers with the model.
_ASYNC_PROMOTION = {SESSION_FORM: False, TRAINING_JOB_FORM: True}


def check_parent(value: object, form: str, *, checkpoint: bool = False) -> str:
    """A parent name of ``form`` (or, with ``checkpoint``, one of its checkpoint names)."""
    pattern = (_CHECKPOINTS if checkpoint else _PARENTS)[form]
    if isinstance(value, str) and pattern.match(value):
        return value
    expected = f"{form}/checkpoints/<checkpoint>" if checkpoint else form
    raise InvalidArgumentError(f"expected a name of the form {expected!r}, got {value!r}")


def list_rows_request(parent: str, page_size: int, token: str | None) -> Request:
    """One page of a parent's checkpoint rows."""
    params: dict[str, str | int] = {"pageSize": page_size}
    if token:
        params["pageToken"] = token
    return Request("GET", f"/v1/{parent}/checkpoints", params=params)


def parse_rows_page(body: Mapping[str, Any], keys: tuple[str, ...]) -> Page[CheckpointRow]:
    """One page of rows, read from the first of ``keys`` the reply has."""
    rows = next((body[key] for key in keys if body.get(key) is not None), None)
    return Page(wrap_rows(CheckpointRow, rows), next_page_token(body))


def promote_named_request(
    name: str, output_model_id: str, base_model: str, *, async_promotion: bool
) -> Request:
    """``POST /v1/{checkpoint name}:promote``; the output model is in the name's account."""
    account = name.split("/", 2)[1]
    body: dict[str, Any] = {
        "output_model": f"accounts/{account}/models/{output_model_id}",
        "base_model": base_model,
    }
    if async_promotion:
        body["async_promotion"] = True
    return Request("POST", f"/v1/{name}:promote", json=body)


def _base_model(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"base_model must be a non-empty string, got {value!r}")
    return value.strip()


class AsyncSessions(AsyncModelWaits):
    """Checkpoints of training sessions and of SFT/DPO jobs: list and promote."""

    async def list_training_session_checkpoints(
        self, name: str, *, page_size: int = LIST_PAGE_SIZE
    ) -> list[CheckpointRow]:
        """Every checkpoint row of a serverless training session, oldest first."""
        return await self._list_rows(name, SESSION_FORM, page_size)

    async def promote_session_checkpoint(
        self, name: str, output_model_id: str, base_model: str, *, timeout: float | None = None
    ) -> Model:
        """Promote a training session's checkpoint (its full name from the listing)."""
        return await self._promote_named(name, SESSION_FORM, output_model_id, base_model, timeout)

    async def delete_training_session(self, name: str) -> None:
        """Close a training session (an already deleted one is fine)."""
        parent = check_parent(name, SESSION_FORM)
        try:
            await self._call(Request("DELETE", f"/v1/{parent}"))
        except NotFoundError:
            return

    async def list_training_job_checkpoints(
        self, parent: str, *, page_size: int = LIST_PAGE_SIZE
    ) -> list[CheckpointRow]:
        """Every checkpoint row of a managed SFT or DPO job, oldest first."""
        return await self._list_rows(parent, TRAINING_JOB_FORM, page_size)

    async def promote_training_job_checkpoint(
        self, name: str, output_model_id: str, base_model: str, *, timeout: float | None = None
    ) -> Model:
        """Promote a managed SFT or DPO job's checkpoint (its full name from the listing)."""
        return await self._promote_named(
            name, TRAINING_JOB_FORM, output_model_id, base_model, timeout
        )

    async def _list_rows(self, parent: str, form: str, page_size: int) -> list[CheckpointRow]:
        checked = check_parent(parent, form)
        check_page_size(page_size)
        keys = _ROW_KEYS[form]

        async def fetch(token: str | None) -> Page[CheckpointRow]:
            body = await self._call(list_rows_request(checked, page_size, token))
            return parse_rows_page(body, keys)

        return [row async for row in AsyncPager(fetch)]

    async def _promote_named(
        self,
        name: str,
        form: str,
        output_model_id: str,
        base_model: str,
        timeout: float | None,
    ) -> Model:
        check_wait(timeout)  # before anything is sent
        request = promote_named_request(
            check_parent(name, form, checkpoint=True),
            require_output_model_id(output_model_id),
            _base_model(base_model),
            async_promotion=_ASYNC_PROMOTION[form],
        )
        # Resent only when the server surely did not act: a second :promote of an output
        # model the first one created would answer 409.
        reply = parse_promote_reply(await self._call(request, retry_on=surely_not_acted))
        if isinstance(reply, Model):
            if not still_uploading(reply):
                return reply
            operation = self._model_operation(reply)
        else:
            operation = self._operation(reply, model_from_response)
        return await operation.result(_PROMOTE_TIMEOUT_S if timeout is None else timeout)
