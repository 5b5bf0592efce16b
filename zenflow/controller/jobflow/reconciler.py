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

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_INVALID, REASON_TEMPLATE_NOT_FOUND
from zenflow.api.status import FLOW_TERMINAL_PHASES
from zenflow.controller.events import EventRecorder
from zenflow.controller.jobflow.apply import FlowStatusTooLargeError, PlanApplier
from zenflow.controller.jobflow.client import FlowClient
from zenflow.controller.jobflow.memory import FlowMemory
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.jobflow.observed import Observer, PodOf
from zenflow.controller.jobflow.parsing import InvalidFlowError, keep_spec
from zenflow.controller.jobflow.templates import FlowTemplates, TemplateNotFoundError
from zenflow.core.planning.finished import settled
from zenflow.core.planning.invalid import invalid_plan
from zenflow.core.planning.plan import plan
from zenflow.core.planning.toolarge import too_large_plan
from zenflow.errors import KubeError
from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import ObjectKey, Result, TerminalError

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
        self._out = PlanApplier(
            client=client, memory=self._memory, recorder=recorder, metrics=metrics
        )
        self._written = self._memory.written  # dropped once the watch delivers our write
        self._observer = Observer(
            jobs=jobs.store, flows=flows.store, memory=self._memory, client=client, pod_of=pod_of
        )
        flows.add_event_handler(on_update=lambda _old, new: self._written.caught_up(new))

    @property
    def status_writes(self) -> int:
        """Status patches sent so far (tests and the benchmark read it)."""
        return self._out.status_writes

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
            return await self._out.ttl(obj, delete=done.ttl.delete, after=done.ttl.requeue_after)
        running, resolved = await self._templates.resolve(obj)  # the spec it runs
        flow = self._memory.specs.flow(uid, running)
        result = plan(flow, await self._observer.observe(key, running, flow), self._now())
        self._templates.keep(result, resolved)
        errors, invalidated = await self._out.apply(flow, result)
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
        await self._out.write_status(obj, flow, result)
        self._memory.planned_with_conflicts(uid)
        self._out.record(self._written.get(uid) or obj, uid, result)
        if result.status.phase in FLOW_TERMINAL_PHASES:
            self._memory.expected.forget(uid)
        if result.delete_flow:
            return await self._out.ttl(obj, delete=True, after=None)
        if errors:
            raise errors[0]
        return Result(requeue_after=result.requeue_after)

    async def reconcile_safely(self, key: ObjectKey) -> Result:
        """``reconcile`` with invalid flows recorded as such (the Controller's entry point)."""
        try:
            return await self.reconcile(key)
        except TemplateNotFoundError as exc:
            await self._fail(exc.flow, exc.message, reason=REASON_TEMPLATE_NOT_FOUND)
            raise TerminalError(f"template not found: {exc.message}") from None
        except InvalidFlowError as exc:
            await self._fail(exc.flow, exc.problems, reason=REASON_INVALID)
            raise TerminalError(f"invalid JobFlow: {exc.problems}") from None
        except FlowStatusTooLargeError as exc:
            return await self._status_too_large(key, exc)
        except KubeError:
            self._metrics.flow_errors.labels("api").inc()
            raise
        except Exception:
            self._metrics.flow_errors.labels("internal").inc()
            raise

    async def _fail(self, flow: JobFlow, problems: str, *, reason: str) -> None:
        """Record a flow that cannot run (``planning.invalid``'s status and Events)."""
        result = invalid_plan(flow, problems, self._now(), reason=reason)
        raw = {"metadata": flow.metadata, "status": flow.status.dump() if flow.status else {}}
        await self._out.write_status(raw, flow, result)
        self._out.record(raw, flow.uid, result)

    async def _status_too_large(self, key: ObjectKey, exc: FlowStatusTooLargeError) -> Result:
        """Stop a flow whose status was refused as too large, with a compact status
        (``planning.toolarge``); if even that is refused, ``FlowStatusTooLargeError`` (terminal)
        leaves the flow as it is, with the Events saying why."""
        flow, obj = exc.flow, exc.obj
        observed = await self._observer.observe(key, obj, flow)
        result = too_large_plan(flow, observed, self._now(), refusal=str(exc))
        errors, _ = await self._out.apply(flow, result)  # deletes its running Jobs
        await self._out.write_status(obj, flow, result)
        self._memory.planned_with_conflicts(flow.uid)
        self._out.record(self._written.get(flow.uid) or obj, flow.uid, result)
        log.warning("flow_status_too_large", refusal=str(exc), jobs_deleted=len(result.deletes))
        if errors:
            raise errors[0]
        return Result()

    async def record_terminal(self, key: ObjectKey, error: TerminalError) -> None:
        """Hook for the Controller's ``on_terminal``: the status already says why."""
        log.info("flow_invalid", key=key, error=str(error))


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid", ""))
