"""The JobFlow reconciler: read the caches, ``plan`` once, apply the plan, write the status.

One reconcile of a flow key: (1) the flow from the informer cache, or the newer copy our last
status patch returned; (2) a settled flow (``planning.finished``, read off the raw object: no
parsing) only has its TTL applied; otherwise the spec is parsed and validated, cached by (uid,
generation), and an invalid flow gets ``planning.invalid``'s status and Events and a
``TerminalError``; (3) ``observed.Observer`` reads its Jobs, peers, the conflicts the last
reconcile met and the outputs the core asks for; (4) ``plan(flow, observed, now)``, once;
(5) resource templates are ensured, then Jobs created and deleted concurrently. A conflict (a
name held by an object the flow does not own, a Job the server rejects) invalidates the plan:
it is remembered (``memory``), the status and Events are skipped and the key requeued at once,
so the next plan sees it (a restarted controller meets it again: creates are idempotent);
(6) one merge patch of ``/status`` carrying the resourceVersion, only if it changed; then the
Events (after the patch: a crash before it re-plans the same transitions, after it none are
repeated), the TTL delete and ``Result(requeue_after)``. Everything needed next time is in
(flow, status, Jobs), so a controller killed at any instant resumes without losing or
duplicating work: Job names are deterministic and creates adopt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_STATUS_TOO_LARGE, REASON_TEMPLATE_NOT_FOUND
from zenflow.api.status import FLOW_TERMINAL_PHASES
from zenflow.controller.events import EventRecorder
from zenflow.controller.jobflow.client import CreateOutcome, FlowClient, StatusTooLargeError
from zenflow.controller.jobflow.memory import FlowMemory
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.jobflow.observed import Observer, PodOf
from zenflow.controller.jobflow.parsing import InvalidFlowError, keep_spec
from zenflow.controller.jobflow.templates import FlowTemplates, TemplateNotFoundError
from zenflow.core.planning.finished import settled
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.planning.invalid import invalid_plan
from zenflow.core.planning.plan import Plan, plan
from zenflow.core.planning.toolarge import too_large_plan
from zenflow.errors import KubeError
from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import ObjectKey, Result, TerminalError
from zenflow.machinery.transform import strip_unused_metadata

log = get_logger(__name__)


class JobFlowReconciler:
    """``reconcile(key) -> Result`` for JobFlows (one instance per controller process)."""

    def __init__(
        self,
        *,
        flows: Informer,
        jobs: Informer,
        client: FlowClient,
        recorder: EventRecorder,
        metrics: FlowMetrics,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Clock | None = None,
        templates: FlowTemplates | None = None,
        pod_of: PodOf | None = None,
    ) -> None:
        self._flows, self._jobs, self._client = flows, jobs, client
        self._templates = templates or FlowTemplates(rest=None)
        self._recorder, self._metrics, self._now = recorder, metrics, now
        self._memory = FlowMemory(clock=clock)
        self._written = self._memory.written  # dropped once the watch delivers our write
        self._observer = Observer(
            jobs=jobs.store, flows=flows.store, memory=self._memory, client=client, pod_of=pod_of
        )
        self.status_writes = 0
        flows.add_event_handler(on_update=lambda _old, new: self._written.caught_up(new))

    async def reconcile(self, key: ObjectKey) -> Result:
        obj = self._flows.store.get(key)
        if obj is None:
            if (gone := self._memory.forget_key(key)) is not None:
                self._metrics.set_phase(gone, None)
            return Result()
        uid = _uid(obj)
        self._memory.track(key, uid)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        obj = self._written.freshest(uid, obj)
        done = settled(self._templates.view(obj), self._now())
        if done is not None:
            self._memory.settled(uid)
            self._metrics.set_phase(uid, done.phase)
            return await self._ttl(obj, delete=done.ttl.delete, after=done.ttl.requeue_after)
        running, resolved = await self._templates.resolve(obj)  # the spec it runs
        flow = self._memory.specs.flow(uid, running)
        result = plan(flow, await self._observer.observe(key, running, flow), self._now())
        self._templates.keep(result, resolved)
        errors, invalidated = await self._apply(flow, result)
        if invalidated:  # no status, no Events: the next reconcile plans with the conflict
            if errors:
                raise errors[0]
            return Result(requeue_after=0)
        if not keep_spec(result.status):
            self._memory.specs.forget(uid)  # finished or idle: parsed again if ever needed
        if result.annotations:
            obj = await self._client.patch_annotations(
                namespace=flow.namespace, name=flow.name, annotations=result.annotations
            )
        await self._write_status(obj, flow, result)
        self._memory.planned_with_conflicts(uid)
        self._record(self._written.get(uid) or obj, uid, result)
        if result.status.phase in FLOW_TERMINAL_PHASES:
            self._memory.expected.forget(uid)
        if result.delete_flow:
            return await self._ttl(obj, delete=True, after=None)
        if errors:
            raise errors[0]
        return Result(requeue_after=result.requeue_after)

    async def reconcile_safely(self, key: ObjectKey) -> Result:
        """``reconcile`` with invalid flows recorded as such (the Controller's entry point)."""
        try:
            return await self.reconcile(key)
        except TemplateNotFoundError as exc:
            flow = exc.flow
            result = invalid_plan(flow, exc.message, self._now(), reason=REASON_TEMPLATE_NOT_FOUND)
            raw = {"metadata": flow.metadata, "status": flow.status.dump() if flow.status else {}}
            await self._write_status(raw, flow, result)
            self._record(raw, flow.uid, result)
            raise TerminalError(f"template not found: {exc.message}") from None
        except InvalidFlowError as exc:
            flow = exc.flow
            result = invalid_plan(flow, exc.problems, self._now())
            raw = {"metadata": flow.metadata, "status": flow.status.dump() if flow.status else {}}
            await self._write_status(raw, flow, result)
            self._record(raw, flow.uid, result)
            raise TerminalError(f"invalid JobFlow: {exc.problems}") from None
        except FlowStatusTooLargeError as exc:
            return await self._status_too_large(key, exc)
        except KubeError:
            self._metrics.flow_errors.labels("api").inc()
            raise
        except Exception:
            self._metrics.flow_errors.labels("internal").inc()
            raise

    async def _status_too_large(self, key: ObjectKey, exc: FlowStatusTooLargeError) -> Result:
        """Stop a flow whose status was refused as too large, with a compact status
        (``planning.toolarge``); if even that is refused, ``FlowStatusTooLargeError`` (terminal)
        leaves the flow as it is, with the Events saying why."""
        flow, obj = exc.flow, exc.obj
        observed = await self._observer.observe(key, obj, flow)
        result = too_large_plan(flow, observed, self._now(), refusal=str(exc))
        errors, _ = await self._apply(flow, result)  # deletes its running Jobs
        await self._write_status(obj, flow, result)
        self._memory.planned_with_conflicts(flow.uid)
        self._record(self._written.get(flow.uid) or obj, flow.uid, result)
        log.warning("flow_status_too_large", refusal=str(exc), jobs_deleted=len(result.deletes))
        if errors:
            raise errors[0]
        return Result()

    async def record_terminal(self, key: ObjectKey, error: TerminalError) -> None:
        """Hook for the Controller's ``on_terminal``: the status already says why."""
        log.info("flow_invalid", key=key, error=str(error))

    async def _apply(self, flow: JobFlow, result: Plan) -> tuple[list[Exception], bool]:
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
            if isinstance(outcome, CreateOutcome) and outcome.conflict is not None:
                refused[create.step] = outcome.conflict
            elif isinstance(outcome, CreateOutcome) and outcome.wait is not None:
                waits[create.manifest["metadata"]["name"]] = outcome.wait
                log.info(
                    "job_create_waiting",
                    job=create.manifest["metadata"]["name"],
                    reason=outcome.wait[0],
                    message=outcome.wait[1],
                )
            elif isinstance(outcome, CreateOutcome) and outcome.job is not None:
                expected.expect(uid, create.manifest["metadata"]["name"], outcome.job)
                self._metrics.jobs_created.inc()
        for name in result.deletes:
            expected.observed(uid, name)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if fatal := next((e for e in errors if not isinstance(e, Exception)), None):
            raise fatal
        self._memory.conflicted(uid, steps=refused, waits=waits)
        return [e for e in errors if isinstance(e, Exception)], bool(refused or waits)

    async def _write_status(self, obj: dict[str, Any], flow: JobFlow, result: Plan) -> None:
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
            self._written.wrote(flow.uid, strip_unused_metadata(updated))
        self._metrics.observe_step_durations(flow.status, result.status)

    def _record(self, obj: dict[str, Any], uid: str, result: Plan) -> None:
        for spec in result.events:
            self._recorder.record(flow=obj, spec=spec)
        self._metrics.set_phase(uid, result.status.phase)

    async def _ttl(self, obj: dict[str, Any], *, delete: bool, after: float | None) -> Result:
        if not delete:
            return Result(requeue_after=after)
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        await self._client.delete_flow(namespace=namespace, name=name, uid=_uid(obj))
        log.info("flow_deleted_ttl")
        return Result()


class FlowStatusTooLargeError(TerminalError):
    """A status write of ``flow`` (raw ``obj``) was refused as too large. Terminal: when even
    the compact status is refused, retrying cannot help."""

    def __init__(self, message: str, *, flow: JobFlow, obj: dict[str, Any]) -> None:
        super().__init__(message)
        self.flow = flow
        self.obj = obj


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))
