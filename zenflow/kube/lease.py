"""``LeaseStore`` over kubernetes-asyncio: one coordination.k8s.io/v1 Lease, as raw JSON.

Every request carries a timeout (through ``zenflow.kube.rest``); updates are PUTs carrying the
resourceVersion that was read, so the API server refuses a stale write with 409 Conflict.
A store made with ``labels`` puts them on the Lease it creates and keeps them on every update
(a PUT replaces the metadata), so Leases of one kind can be listed by label.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from zenflow.errors import NotFoundError
from zenflow.kube.rest import Rest
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S, Transport
from zenflow.machinery.leaderelection import LeaderElectionRecord, LeaseStore, ObservedLease

if TYPE_CHECKING:
    from kubernetes_asyncio import client


def format_micro_time(value: datetime | None) -> str | None:
    """RFC 3339 with microseconds, UTC (Kubernetes MicroTime)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def record_to_spec(record: LeaderElectionRecord) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "leaseTransitions": record.lease_transitions,
    }
    if record.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = format_micro_time(record.renew_time)
    return spec


def lease_from_json(doc: dict[str, Any]) -> ObservedLease:
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    holder = spec.get("holderIdentity")
    duration = spec.get("leaseDurationSeconds")
    transitions = spec.get("leaseTransitions")
    record = LeaderElectionRecord(
        holder_identity=holder if isinstance(holder, str) else "",
        lease_duration_seconds=duration if isinstance(duration, int) else 0,
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        lease_transitions=transitions if isinstance(transitions, int) else 0,
    )
    rv = meta.get("resourceVersion")
    return ObservedLease(record, rv if isinstance(rv, str) else "")


class KubeLeaseStore(LeaseStore):
    def __init__(
        self,
        api: client.ApiClient | Transport,
        *,
        namespace: str,
        name: str,
        identity: str = "",
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.description = f"{namespace}/{name}"
        self._labels = dict(labels or {})
        self._rest = Rest(api, timeout=request_timeout)
        self._namespace = namespace
        self._name = name
        self._identity = identity
        self._collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._uid = ""

    async def get(self) -> ObservedLease | None:
        try:
            doc = await self._call("GET", f"{self._collection}/{self._name}", None, "get lease")
        except NotFoundError:
            return None
        return self._observe(doc)

    async def create(self, record: LeaderElectionRecord) -> ObservedLease:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": self._metadata(),
            "spec": record_to_spec(record),
        }
        return self._observe(await self._call("POST", self._collection, body, "create lease"))

    async def update(self, record: LeaderElectionRecord, resource_version: str) -> ObservedLease:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {**self._metadata(), "resourceVersion": resource_version},
            "spec": record_to_spec(record),
        }
        path = f"{self._collection}/{self._name}"
        return self._observe(await self._call("PUT", path, body, "update lease"))

    def _metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self._name, "namespace": self._namespace}
        if self._labels:
            meta["labels"] = dict(self._labels)
        return meta

    async def event(self, reason: str, message: str) -> None:
        now = format_micro_time(datetime.now(UTC))
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{self._name}.", "namespace": self._namespace},
            "involvedObject": {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "name": self._name,
                "namespace": self._namespace,
                "uid": self._uid,
            },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "source": {"component": "zenflow-controller"},
            "reportingComponent": "zenflow-controller",
            "reportingInstance": self._identity or "zenflow",
            "action": reason,
            "eventTime": now,
        }
        await self._call(
            "POST", f"/api/v1/namespaces/{self._namespace}/events", body, "create event"
        )

    def _observe(self, doc: dict[str, Any]) -> ObservedLease:
        meta = doc.get("metadata")
        if (
            isinstance(meta, dict)
            and isinstance(meta.get("uid"), str)
            and doc.get("kind") == "Lease"
        ):
            self._uid = meta["uid"]
        return lease_from_json(doc)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> dict[str, Any]:
        return await self._rest.request(method, path, body=body, what=f"{what} {self.description}")
