"""Base models and training shapes as the control plane serves them (docs/protocol.md §1.7).

What is published lives in ``Settings`` (``base_models``, ``training_shapes``), read on
every request, so a spec added while serving is visible at once. Any key may read what an
account publishes (``accounts/fireworks/...``, as public models and shapes are); another
account that publishes nothing is a 403, as for every resource of the control plane.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .catalog import BaseModelSpec, TrainingShapeSpec
from .filters import matches, parse_filter
from .names import model_name, parse_name, resource_id_problem
from .service import Service
from .wire import ApiError

__all__ = ["WILDCARD", "Catalog"]

WILDCARD = "-"  # an account or shape id of "-" lists the versions of every one
_ORDERS = {"": True, "create_time desc": True, "createTime desc": True, "create_time": False}


def _model_json(spec: BaseModelSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "displayName": spec.display_name or spec.name.rsplit("/", 1)[1],
        "state": "READY",
        "kind": "HF_BASE_MODEL",
        "public": True,
        "contextLength": spec.context_length,
        "supportsLora": spec.supports_lora,
        "baseModelDetails": {
            "moe": spec.moe,
            "modelType": spec.model_type,
            "parameterCount": str(spec.parameter_count),  # int64: a decimal string
            "supportsFireattention": False,
            "tunable": True,
        },
    }


def _check_ids(*pairs: tuple[str, str], listing: bool = False) -> None:
    """400 for an id of the path the server would never have issued (``-`` only in listings)."""
    for value, what in pairs:
        if listing and value == WILDCARD:
            continue
        problem = resource_id_problem(value, what)
        if problem:
            raise ApiError(400, problem, reason="INVALID_ARGUMENT")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (ValueError, binascii.Error) as exc:
        raise ApiError(400, f"invalid pageToken {token!r}", reason="INVALID_ARGUMENT") from exc
    if offset < 0:
        raise ApiError(400, f"invalid pageToken {token!r}", reason="INVALID_ARGUMENT")
    return offset


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


class Catalog(Service):
    """Lookups and listings over the published specs.

    No lock: it reads only ``Settings`` tuples, which are replaced whole, never changed in
    place. A page token is an offset into the listing, so a version published between two
    pages of a newest-first listing shifts the rest by one (a repeat, never a loss).
    """

    def _check_readable(self, account: str) -> None:
        settings = self._settings
        publishers = {m.account for m in settings.base_models}
        publishers.update(s.account for s in settings.training_shapes)
        if account != self._account and account not in publishers:
            raise ApiError(
                403, f"the API key has no access to account {account!r}", reason="PERMISSION_DENIED"
            )

    def base_model(self, name: str) -> BaseModelSpec | None:
        """The published base model of that name."""
        return next((m for m in self._settings.base_models if m.name == name), None)

    def model_json(self, account: str, model_id: str) -> dict[str, Any] | None:
        """A published base model; None for another name of the key's own account (promoted
        models live there); 404 or 403 for any other account's; 400 for a malformed id."""
        _check_ids((account, "account id"), (model_id, "model id"))
        spec = self.base_model(model_name(account, model_id))
        if spec is not None:
            return _model_json(spec)
        if account == self._account:
            return None
        self._check_readable(account)
        raise ApiError(
            404, f"model {model_name(account, model_id)!r} not found", reason="NOT_FOUND"
        )

    # -- training shapes ------------------------------------------------------------------

    def _versions(
        self, account: str, shape_id: str, *, listing: bool = False
    ) -> list[TrainingShapeSpec]:
        """The versions of one shape (404 when it has none), or of all with wildcards."""
        if not listing and WILDCARD in (account, shape_id):
            raise ApiError(400, "'-' stands for every account or shape only when listing versions")
        _check_ids((account, "account id"), (shape_id, "training shape id"), listing=listing)
        if account != WILDCARD:
            self._check_readable(account)
        found = [
            s
            for s in self._settings.training_shapes
            if account in (WILDCARD, s.account) and shape_id in (WILDCARD, s.name.rsplit("/", 1)[1])
        ]
        if not found and WILDCARD not in (account, shape_id):
            name = f"accounts/{account}/trainingShapes/{shape_id}"
            raise ApiError(404, f"training shape {name!r} not found", reason="NOT_FOUND")
        return found

    def _version_json(self, spec: TrainingShapeSpec) -> dict[str, Any]:
        snapshot = spec.snapshot()
        base = self.base_model(spec.base_model)
        if base is not None:
            snapshot["modelType"] = base.model_type
            snapshot["parameterCount"] = str(base.parameter_count)
        validated = [
            s for s in self._settings.training_shapes if s.name == spec.name and s.validated
        ]
        return {
            "name": spec.version_name,
            "snapshot": snapshot,
            "validated": spec.validated,
            "latestValidated": bool(validated) and validated[-1] == spec,
            "public": spec.account != self._account,
        }

    def shape_json(self, account: str, shape_id: str) -> dict[str, Any]:
        """A shape: its name and the configuration of its newest version."""
        newest = self._versions(account, shape_id)[-1]
        return {
            "name": newest.name,
            "displayName": shape_id,
            "public": newest.account != self._account,
            **newest.snapshot(),
        }

    def check_shape_ref(self, ref: str) -> None:
        """A job's ``trainingShape``, ``accounts/{a}/trainingShapes/{s}[/versions/{v}]``,
        must be published: 400 for another form, 404 (or 403) as reading it would answer."""
        ids = parse_name(ref, "trainingShapes") or parse_name(ref, "trainingShapes", "versions")
        if ids is None or WILDCARD in ids:
            raise ApiError(
                400,
                f"trainingShape must be 'accounts/<account>/trainingShapes/<shape>"
                f"[/versions/<version>]', got {ref!r}",
                reason="INVALID_ARGUMENT",
            )
        if len(ids) == 3:
            self.version_json(*ids)
        else:
            self.shape_json(*ids)

    def version_json(self, account: str, shape_id: str, version: str) -> dict[str, Any]:
        """One version of a shape; 404 when the shape or the version is unknown."""
        _check_ids((version, "training shape version"))
        for spec in self._versions(account, shape_id):
            if spec.version == version:
                return self._version_json(spec)
        name = f"accounts/{account}/trainingShapes/{shape_id}/versions/{version}"
        raise ApiError(404, f"training shape version {name!r} not found", reason="NOT_FOUND")

    def versions_page(
        self,
        account: str,
        shape_id: str,
        *,
        filter_expression: str | None,
        order_by: str | None,
        page_size: int,
        token: str | None,
    ) -> dict[str, Any]:
        """``{"trainingShapeVersions", "nextPageToken"?}``: newest first unless asked otherwise."""
        order = (order_by or "").strip()
        if order not in _ORDERS:
            raise ApiError(400, f"orderBy {order_by!r} is not supported; use 'create_time desc'")
        comparisons = parse_filter(filter_expression)
        specs = self._versions(account, shape_id, listing=True)
        if _ORDERS[order]:
            specs = specs[::-1]
        found = [v for v in map(self._version_json, specs) if matches(v, comparisons)]
        start = _offset(token)
        body: dict[str, Any] = {"trainingShapeVersions": found[start : start + page_size]}
        if start + page_size < len(found):
            body["nextPageToken"] = _token(start + page_size)
        return body
