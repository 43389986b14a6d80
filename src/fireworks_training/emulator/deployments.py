"""Deployments on the control plane: create, get, update, scale, delete (docs/protocol.md §4).

A deployment's resource lives in the store; its replicas (``fleet.py``) live in memory, as
serving pods do: an emulator restarted on the same state dir finds its deployments with
fresh replicas serving the base weights. States advance lazily on the emulator's clock:
CREATING or UPDATING become READY after ``deployment_start_seconds``, DELETING is gone after
``deployment_delete_seconds``.
"""

from __future__ import annotations

from typing import Any

from .jobs import Jobs
from .names import deployment_name, parse_name, resource_id_problem
from .service import Service
from .settings import Settings
from .store import Clock, DeploymentRecord, Store
from .wire import ApiError, format_us

__all__ = ["CREATING", "DELETING", "READY", "TRANSITION_TYPES", "UPDATING", "Deployments"]

CREATING = "CREATING"
READY = "READY"
UPDATING = "UPDATING"
DELETING = "DELETING"
TRANSITION_TYPES = ("ASYNC", "SYNC")
_US = 1_000_000

# Fields a create body may carry; the server sets name, state and times itself.
_SETTABLE = {
    "displayName": "",
    "description": "",
    "baseModel": "",
    "minReplicaCount": 0,
    "maxReplicaCount": 0,
    "enableHotLoad": False,
    "forTraining": False,
    "placement": {},
    "hotLoadBucketType": "",
    "hotLoadTrainerJob": "",
    "hotLoadTransitionType": "",
    "deploymentShape": "",
    "acceleratorType": "",
    "acceleratorCount": 0,
    "extraArgs": [],
    "extraValues": {},
    "annotations": {},
    "preemptible": False,
    "precision": "",
}
_IMMUTABLE = frozenset({"baseModel", "deploymentShape", "acceleratorType", "forTraining"})
# A change of these rolls the pods: replicas come back without their snapshot.
_ROLLING = frozenset({"hotLoadTrainerJob", "hotLoadTransitionType"})


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


_BY_MASK_PATH = {_snake(name): name for name in _SETTABLE}


def _unknown_field(name: str) -> ApiError:
    return ApiError(
        400,
        f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.',
        reason="INVALID_ARGUMENT",
    )


def desired_replicas(fields: dict[str, Any]) -> int:
    """How many replicas the settings ask for: the minimum, or one when it may scale up."""
    low, high = int(fields.get("minReplicaCount") or 0), int(fields.get("maxReplicaCount") or 0)
    return low if low > 0 else min(high, 1)


class Deployments(Service):
    """Deployment resources and their state machine (their replicas are ``Serving``'s)."""

    def __init__(self, store: Store, clock: Clock, settings: Settings, jobs: Jobs) -> None:
        super().__init__(store, clock, settings)
        self._jobs = jobs

    # -- validation ---------------------------------------------------------------------------

    def _check_fields(self, body: dict[str, Any]) -> None:
        for name in body:
            if name not in _SETTABLE:
                raise _unknown_field(name)
        for name in ("minReplicaCount", "maxReplicaCount", "acceleratorCount"):
            value = body.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ApiError(400, f"{name} must be a non-negative integer, got {value!r}")
        transition = body.get("hotLoadTransitionType") or ""
        if transition and transition not in (
            *TRANSITION_TYPES,
            "HOT_LOAD_TRANSITION_TYPE_UNSPECIFIED",
        ):
            raise ApiError(
                400, f"hotLoadTransitionType must be one of {TRANSITION_TYPES}, got {transition!r}"
            )

    def _check_trainer_job(self, value: Any, base_model: str) -> None:
        """A PER_TRAINER attachment names an existing job of this account and base model."""
        if not value:
            return
        ids = parse_name(value, "rlorTrainerJobs")
        if ids is None or ids[0] != self._account:
            raise ApiError(
                400,
                f"hotLoadTrainerJob must be 'accounts/{self._account}/rlorTrainerJobs/<id>', "
                f"got {value!r}",
            )
        job = self._store.jobs.get(ids[1])
        if job is None:
            raise ApiError(400, f"hotLoadTrainerJob {value!r} does not exist")
        if job.base_model != base_model:
            raise ApiError(
                400,
                f"hotLoadTrainerJob {value!r} trains {job.base_model!r}, "
                f"the deployment serves {base_model!r}",
            )

    # -- resource ------------------------------------------------------------------------------

    def create(
        self, deployment_id: str | None, body: dict[str, Any], query: dict[str, str]
    ) -> DeploymentRecord:
        """A new deployment in CREATING; 409 when the id exists."""
        problem = resource_id_problem(deployment_id, "deploymentId")
        if problem:
            raise ApiError(400, problem, reason="INVALID_ARGUMENT")
        assert deployment_id is not None
        self._check_fields(body)
        base_model = body.get("baseModel")
        if not isinstance(base_model, str) or not base_model:
            raise ApiError(400, "baseModel is required", reason="INVALID_ARGUMENT")
        if body.get("deploymentShape") and body.get("acceleratorType"):
            raise ApiError(400, "give deploymentShape or acceleratorType, not both")
        if body.get("deploymentShape") and query.get("acceptShapelessRisk") == "true":
            raise ApiError(400, "acceptShapelessRisk cannot be combined with a deploymentShape")
        with self._lock:
            self._check_trainer_job(body.get("hotLoadTrainerJob"), base_model)
            if deployment_id in self._store.deployments:
                raise ApiError(
                    409, f"deployment {deployment_id!r} already exists", reason="ALREADY_EXISTS"
                )
            now = self._clock.now_us()
            record = DeploymentRecord(deployment_id, self._normalised(body), CREATING, now, now)
            record.settle_us = now + int(self._settings.deployment_start_seconds * _US)
            self._store.deployments[deployment_id] = record
            self._store.save()
            return record

    def _normalised(
        self, fields: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The fields as the server keeps them: its own choices filled in."""
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        if fields.get("hotLoadTransitionType") == "HOT_LOAD_TRANSITION_TYPE_UNSPECIFIED":
            del fields["hotLoadTransitionType"]
        if fields.get("enableHotLoad"):
            fields.setdefault("hotLoadTransitionType", "ASYNC")  # the server's pick when unset
            fields.setdefault("hotLoadBucketType", "FW_HOSTED")
        job = parse_name(fields.get("hotLoadTrainerJob"), "rlorTrainerJobs")
        if job is not None:
            where = self._store.root / "checkpoints" / job[1]
            fields["hotLoadBucketUrl"] = where.resolve().as_uri()
        else:
            fields.pop("hotLoadBucketUrl", None)
        counts = ("minReplicaCount", "maxReplicaCount")
        if previous is None or any(fields.get(n) != previous.get(n) for n in counts):
            fields["desiredReplicaCount"] = desired_replicas(fields)
        return fields

    def find(self, deployment_id: str) -> DeploymentRecord | None:
        """The deployment with its state brought up to date, or None (gone or unknown)."""
        with self._lock:
            record = self._store.deployments.get(deployment_id)
            if record is None:
                return None
            now = self._clock.now_us()
            if record.settle_us is not None and record.settle_us <= now:
                if record.state == DELETING:
                    del self._store.deployments[deployment_id]
                    self._store.save()
                    return None
                record.state, record.settle_us, record.update_us = READY, None, now
                self._store.save()
            return record

    def get(self, deployment_id: str) -> DeploymentRecord:
        """The deployment; 404 when unknown or gone."""
        record = self.find(deployment_id)
        if record is None:
            raise ApiError(404, f"deployment {deployment_id!r} not found", reason="NOT_FOUND")
        return record

    def resource_json(self, record: DeploymentRecord, replicas: int, ready: int) -> dict[str, Any]:
        """The deployment as the control plane answers it (camelCase)."""
        body: dict[str, Any] = {
            "name": deployment_name(self._account, record.deployment_id),
            **record.fields,
            "state": record.state,
            "replicaCount": replicas,
            "replicaStats": {"readyReplicaCount": ready},
            "createTime": format_us(record.create_us),
            "updateTime": format_us(record.update_us),
        }
        return body

    def delete(self, deployment_id: str) -> DeploymentRecord:
        """DELETING now, gone after ``deployment_delete_seconds``."""
        with self._lock:
            record = self.get(deployment_id)
            now = self._clock.now_us()
            if record.state != DELETING:
                record.state, record.update_us = DELETING, now
                record.settle_us = now + int(self._settings.deployment_delete_seconds * _US)
                self._store.save()
            return record

    def update(
        self, deployment_id: str, body: dict[str, Any], mask: str | None
    ) -> tuple[DeploymentRecord, bool]:
        """PATCH: the masked fields, or every mutable field without a mask; True on a pod roll.

        Without ``updateMask`` every mutable field takes the body's value, and a field the
        body leaves out is reset (as the real control plane does).
        """
        self._check_fields(body)
        with self._lock:
            record = self.get(deployment_id)
            if record.state == DELETING:
                raise ApiError(400, f"deployment {deployment_id!r} is being deleted")
            if mask is None:
                paths = [name for name in _SETTABLE if name not in _IMMUTABLE]
            else:
                paths = [self._mask_path(p.strip()) for p in mask.split(",") if p.strip()]
            fields = dict(record.fields)
            for name in paths:
                if name in _IMMUTABLE and body.get(name, fields.get(name)) != fields.get(name):
                    raise ApiError(400, f"{name} cannot be changed")
                fields[name] = body.get(name, _SETTABLE[name])
            base_model = str(fields.get("baseModel"))
            self._check_trainer_job(fields.get("hotLoadTrainerJob"), base_model)
            fields = self._normalised(fields, record.fields)
            rolled = any(fields.get(n) != record.fields.get(n) for n in _ROLLING)
            now = self._clock.now_us()
            record.fields, record.update_us = fields, now
            if rolled:
                record.state = UPDATING
                record.settle_us = now + int(self._settings.deployment_start_seconds * _US)
            self._store.save()
            return record, rolled

    @staticmethod
    def _mask_path(path: str) -> str:
        name = _BY_MASK_PATH.get(path) or (path if path in _SETTABLE else None)
        if name is None:
            raise ApiError(400, f"updateMask names an unknown field {path!r}")
        return name

    def scale(self, deployment_id: str, replica_count: Any) -> DeploymentRecord:
        """``:scale``: the number of replicas wanted now."""
        if (
            not isinstance(replica_count, int)
            or isinstance(replica_count, bool)
            or replica_count < 0
        ):
            raise ApiError(
                400, f"replicaCount must be a non-negative integer, got {replica_count!r}"
            )
        with self._lock:
            record = self.get(deployment_id)
            record.fields["desiredReplicaCount"] = replica_count
            record.update_us = self._clock.now_us()
            self._store.save()
            return record
