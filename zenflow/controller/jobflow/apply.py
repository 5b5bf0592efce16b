"""Applying one plan of a JobFlow to the API server: resources, Job creates and deletes, the
status patch, the Events and the TTL delete — the reconciler's writes, and nothing it decides.

Invariants: resource templates are ensured before any Job; creates and deletes run
concurrently; a conflict (a name held by an object the flow does not own, a Job the server
rejects, a create refused for now) is remembered in the flow's ``memory`` for the next plan and
reported as invalidating this one; the status is one merge patch carrying the resourceVersion,
sent only when it changed, and its answer is kept as the freshest copy until the watch delivers
it; Events are recorded only after the status patch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_STATUS_TOO_LARGE
from zenflow.controller.events import EventRecorder
from zenflow.controller.jobcache import compact_job
from zenflow.controller.jobflow.client import CreateOutcome, FlowClient, StatusTooLargeError
from zenflow.controller.jobflow.memory import FlowMemory
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.plan import Plan
from zenflow.logging import get_logger
from zenflow.machinery.reconcile import Result, TerminalError
from zenflow.machinery.transform import strip_unused_metadata

log = get_logger(__name__)


class FlowStatusTooLargeError(TerminalError):
    """A status write of ``flow`` (raw ``obj``) was refused as too large. Terminal: when even
    the compact status is refused, retrying cannot help."""

    def __init__(self, message: str, *, flow: JobFlow, obj: dict[str, Any]) -> None:
        super().__init__(message)
        self.flow = flow
        self.obj = obj


class PlanApplier:
    """The writes of one reconcile, through the flow client."""

    def __init__(
        self,
        *,
        client: FlowClient,
        memory: FlowMemory,
        recorder: EventRecorder,
        metrics: FlowMetrics,
    ) -> None:
        self._client, self._memory = client, memory
        self._recorder, self._metrics = recorder, metrics
        self.status_writes = 0

    async def apply(self, flow: JobFlow, result: Plan) -> tuple[list[Exception], bool]:
        """Resources first, then all Job creates and deletes concurrently. Returns the transient
        errors and whether a conflict invalidated the plan (remembered for the next one)."""
        uid, expected = flow.uid, self._memory.expected
        if result.resources:
            found = await asyncio.gather(
                *(self._client.ensure_resource(m, flow_uid=uid) for m in result.resources)
            )
            if conflicts := [c for c in found if c is not None]:
                self._memory.conflicted(uid, resource="; ".join(conflicts))
                return [], True
        outcomes = await asyncio.gather(
            *(self._client.create_job(c.manifest, flow_uid=uid) for c in result.creates),
            *(self._client.delete_job(namespace=flow.namespace, name=n) for n in result.deletes),
            return_exceptions=True,
        )
        refused: dict[str, tuple[str, str]] = {}
        waits: dict[str, tuple[str, str]] = {}  # Job name → refused for now: the step waits
        for create, outcome in zip(result.creates, outcomes, strict=False):
            if not isinstance(outcome, CreateOutcome):
                continue
            name = create.manifest["metadata"]["name"]
            if outcome.conflict is not None:
                refused[create.step] = outcome.conflict
            elif outcome.wait is not None:
                waits[name] = outcome.wait
                log.info(
                    "job_create_waiting", job=name, reason=outcome.wait[0], message=outcome.wait[1]
                )
            elif outcome.job is not None:
                expected.expect(uid, name, compact_job(outcome.job))  # as cached
                self._metrics.jobs_created.inc()
        for name in result.deletes:
            expected.observed(uid, name)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if fatal := next((e for e in errors if not isinstance(e, Exception)), None):
            raise fatal
        self._memory.conflicted(uid, steps=refused, waits=waits)
        return [e for e in errors if isinstance(e, Exception)], bool(refused or waits)

    async def write_status(self, obj: dict[str, Any], flow: JobFlow, result: Plan) -> None:
        """One merge patch of ``/status`` carrying the resourceVersion, only if it changed."""
        old = obj.get("status") or {}
        new = result.status.dump()
        if new == old:
            return
        try:
            updated = await self._client.patch_status(
                namespace=flow.namespace,
                name=flow.name,
                resource_version=str(obj["metadata"].get("resourceVersion", "")),
                status={**new, **dict.fromkeys(old.keys() - new.keys())},  # None removes a field
            )
        except StatusTooLargeError as exc:
            self._metrics.flow_errors.labels("status_too_large").inc()
            spec = EventSpec("Warning", REASON_STATUS_TOO_LARGE, f"status refused: {exc}")
            self._recorder.record(flow=obj, spec=spec)
            raise FlowStatusTooLargeError(str(exc), flow=flow, obj=obj) from exc
        self.status_writes += 1
        self._metrics.status_writes.inc()
        if updated.get("metadata"):
            self._memory.written.wrote(flow.uid, written_copy(obj, updated))
        self._metrics.observe_step_durations(flow.status, result.status)

    def record(self, obj: dict[str, Any], uid: str, result: Plan) -> None:
        """The plan's Events (after its status patch) and the flow's phase metric."""
        for spec in result.events:
            self._recorder.record(flow=obj, spec=spec)
        self._metrics.set_phase(uid, result.status.phase)

    async def ttl(self, obj: dict[str, Any], *, delete: bool, after: float | None) -> Result:
        """Delete the finished flow now, or come back when its TTL expires."""
        if not delete:
            return Result(requeue_after=after)
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        await self._client.delete_flow(namespace=namespace, name=name, uid=str(meta.get("uid", "")))
        log.info("flow_deleted_ttl")
        return Result()


def written_copy(obj: dict[str, Any], updated: dict[str, Any]) -> dict[str, Any]:
    """What the reconciler keeps of a status patch's answer until the cache has it.

    The patch carried ``obj``'s resourceVersion as a precondition, so the answer is ``obj``
    with the new status and resourceVersion (and managedFields, which caches drop): built from
    ``obj``'s parts, already stripped and shared, rather than stripping and sharing the whole
    answer again. Without that precondition (no resourceVersion) the answer is taken whole."""
    meta = obj.get("metadata") or {}
    rv = (updated.get("metadata") or {}).get("resourceVersion")
    if not meta.get("resourceVersion") or not isinstance(rv, str):
        return strip_unused_metadata(updated)
    return {**obj, "metadata": {**meta, "resourceVersion": rv}, "status": updated.get("status")}
