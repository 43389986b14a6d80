"""Accounts: the account of the API key, and names built in it (docs/protocol.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...checkpoints.names import ModelName, TrainerJobName
from ...errors import AccountResolutionError
from .._base_client import Request
from .._flavour import AsyncAccountView

__all__ = ["AsyncAccounts", "accounts_request", "parse_account"]


def accounts_request() -> Request:
    """``GET /v1/accounts?pageSize=2``: two, so that several accounts are noticed."""
    return Request("GET", "/v1/accounts", params={"pageSize": 2})


def parse_account(body: Mapping[str, Any]) -> str:
    """The only account of the API key, from ``GET /v1/accounts``."""
    accounts = body.get("accounts") or []
    names = [a.get("name") for a in accounts if isinstance(a, Mapping)]
    if len(names) != 1:
        raise AccountResolutionError(
            f"expected exactly one account for this API key, found {len(names)}; pass account_id="
        )
    name = names[0]
    if not isinstance(name, str) or not name.startswith("accounts/"):
        raise AccountResolutionError(f"unexpected account name {name!r} from GET /v1/accounts")
    return name.removeprefix("accounts/")


class AsyncAccounts(AsyncAccountView):
    """The account: as given (``account_id=``), else looked up once with the key.

    ``account_id`` differs by flavour (``_flavour.py``): the sync client resolves it on first
    access; the async client gives it when known, else None.
    """

    async def get_account_id(self) -> str:
        """The account id: as given, else resolved once via ``GET /v1/accounts``."""
        async with self._lock:
            if self._account_id is None:
                self._account_id = await self._call(accounts_request(), parse=parse_account)
        return self._account_id

    async def _job_name(self, job_id: str | TrainerJobName) -> TrainerJobName:
        """The full name of a job given by short id (in this account) or full name."""
        account, job = TrainerJobName.parse_ref(job_id)
        return TrainerJobName(account or await self.get_account_id(), job)

    async def _model_name(self, model_id: str | ModelName) -> ModelName:
        """The full name of a model given by short id (in this account) or full name."""
        account, model = ModelName.parse_ref(model_id)
        return ModelName(account or await self.get_account_id(), model)
