"""The JobFlow reconciler: read the caches, ask the pure planner, apply the plan.

One reconcile of a flow key:
  1. the flow from the informer cache (or the newer copy our last status patch returned);
  2. a finished flow with nothing to act on only has its TTL checked (no parsing); otherwise
     parse + validate its spec, cached by (uid, generation); an invalid flow gets phase Failed,
     reason Invalid, the validator's messages, and a ``TerminalError`` (not retried);
  3. observe its Jobs (owner index + expectations), peers, and outputs of newly succeeded steps;
  4. ``plan(flow, observed, now)``; resource templates first (a conflict re-plans: the flow
     fails), then all Job creates and deletes concurrently;
  5. one merge patch of ``/status`` carrying the resourceVersion, only if the status changed;
  6. Events (after the patch: a crash before it re-plans the same transitions; after it, none
     are repeated), the TTL delete, and ``Result(requeue_after)`` for retries/deadlines/TTL.
Everything needed next time is in (flow, status, Jobs), so a controller killed at any instant
resumes without losing or duplicating work: Job names are deterministic and creates adopt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from zenflow.api.constants import ANNOTATION_RETRY
from zenflow.api.formats import clip, parse_time
from zenflow.api.jobflow import JobFlow
from zenflow.api.reasons import REASON_INVALID
from zenflow.api.status import FLOW_TERMINAL_PHASES, JobFlowStatus, StepStatus
from zenflow.controller.events import EventRecorder
from zenflow.controller.jobflow.client import FlowClient
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.jobflow.observed import observe_jobs, observe_peers
from zenflow.controller.jobflow.parsing import InvalidFlowError, SpecCache, keep_spec
from zenflow.core.observed import JobRecord, Observed
from zenflow.core.planning.deadlines import decide_ttl
from zenflow.core.planning.flowstatus import build_conditions, flow_events
from zenflow.core.planning.jobspec import owner_reference
from zenflow.core.planning.outputs import extract_outputs, needs_termination_message
from zenflow.core.planning.plan import Plan, plan
from zenflow.errors import KubeError
from zenflow.logging import get_logger
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import ObjectKey, Result, TerminalError
from zenflow.machinery.transform import strip_unused_metadata

log = get_logger(__name__)

EXPECTATION_TTL_S = 60.0
"""A created Job not seen in the cache after this long is no longer assumed to exist."""


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
    ) -> None:
        self._flows = flows
        self._jobs = jobs
        self._executor = client
        self._recorder = recorder
        self._metrics = metrics
        self._now = now
        self._specs = SpecCache()
        # uid → the flow as our last status patch returned it, until the cache shows that
        # version (dropped by the informer handler below, so a backlog of queued reconciles
        # does not keep thousands of these alive).
        self._written: dict[str, dict[str, Any]] = {}
        self._expected: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {}
        self._uids: dict[ObjectKey, str] = {}
        self.status_writes = 0
        flows.add_event_handler(on_update=self._cache_caught_up)

    # -- entry point ---------------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey) -> Result:
        obj = self._flows.store.get(key)
        if obj is None:
            self._forget_key(key)
            return Result()
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        if self._uids.get(key) not in (None, uid):
            self._forget_key(key)  # deleted and re-created under the same name
        self._uids[key] = uid
        obj = self._freshest(uid, obj)
        if meta.get("deletionTimestamp"):
            return Result()
        finished = await self._finished(uid, obj)
        if finished is not None:
            return finished
        flow = self._parse(uid, obj)
        now = self._now()
        observed = await self._observe(key, uid, flow, obj)
        result = plan(flow, observed, now)
        if result.resources:
            conflict = await self._ensure_resources(flow, result.resources)
            if conflict is not None:
                result = plan(flow, replace(observed, resource_conflict=conflict), now)
        errors, conflicts = await self._apply_jobs(flow, result)
        if conflicts:
            observed = replace(
                observed,
                jobs=self._observe_jobs(key, uid),
                create_conflicts=conflicts,
            )
            result = plan(flow, observed, now)
            more, _ = await self._apply_jobs(flow, result)
            errors += more
        if not keep_spec(result.status):
            self._specs.forget(uid)  # finished or idle: parsed again if ever needed
        if result.annotations:
            obj = await self._executor.patch_annotations(
                namespace=flow.namespace, name=flow.name, annotations=result.annotations
            )
        await self._write_status(obj, flow, result)
        for spec in result.events:
            self._recorder.record(flow=self._written.get(uid, obj), spec=spec)
        self._metrics.set_phase(uid, result.status.phase)
        if result.status.phase in FLOW_TERMINAL_PHASES:
            self._expected.pop(uid, None)
        if result.delete_flow:
            await self._executor.delete_flow(namespace=flow.namespace, name=flow.name, uid=uid)
            log.info("flow_deleted_ttl")
            return Result()
        if errors:
            raise errors[0]
        return Result(requeue_after=result.requeue_after)

    async def record_terminal(self, key: ObjectKey, error: TerminalError) -> None:
        """Hook for the Controller's ``on_terminal``: the status already says why."""
        log.info("flow_invalid", key=key, error=str(error))

    async def _finished(self, uid: str, obj: dict[str, Any]) -> Result | None:
        """Fast path for a finished flow with nothing to act on (no new retry nonce, not an
        Invalid status of an older generation): only its TTL matters, read from the raw
        object without parsing or validating the spec. None when the full path is needed."""
        meta = obj.get("metadata") or {}
        status = obj.get("status") or {}
        if status.get("phase") not in FLOW_TERMINAL_PHASES:
            return None
        if status.get("reason") == REASON_INVALID and status.get("observedGeneration") != int(
            meta.get("generation") or 0
        ):
            return None
        nonce = (meta.get("annotations") or {}).get(ANNOTATION_RETRY)
        if nonce and nonce != status.get("retryNonce"):
            return None
        self._specs.forget(uid)
        self._expected.pop(uid, None)
        self._metrics.set_phase(uid, str(status.get("phase")))
        ttl = ((obj.get("spec") or {}).get("executionPolicy") or {}).get("ttlSecondsAfterFinished")
        decision = decide_ttl(
            completion_time=parse_time(status.get("completionTime")),
            ttl_seconds=ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None,
            now=self._now(),
        )
        if decision.delete:
            await self._executor.delete_flow(
                namespace=str(meta.get("namespace", "")), name=str(meta.get("name", "")), uid=uid
            )
            log.info("flow_deleted_ttl")
            return Result()
        return Result(requeue_after=decision.requeue_after)

    # -- reading -------------------------------------------------------------------------------

    def _freshest(self, uid: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The cached flow, or the copy our last status patch returned if that is newer (the
        watch has not delivered our own write yet)."""
        written = self._written.get(uid)
        if written is None:
            return obj
        try:
            newer = int(written["metadata"]["resourceVersion"]) > int(
                obj["metadata"]["resourceVersion"]
            )
        except (KeyError, TypeError, ValueError):
            newer = False
        if newer:
            return written
        self._written.pop(uid, None)
        return obj

    def _cache_caught_up(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Flow informer update handler: forget our written copy once the cache has it."""
        uid = str((new.get("metadata") or {}).get("uid", ""))
        if uid in self._written:
            self._freshest(uid, new)

    def _parse(self, uid: str, obj: dict[str, Any]) -> JobFlow:
        """The typed flow; raises InvalidFlowError when the spec is invalid."""
        return self._specs.flow(uid, obj)

    def _observe_jobs(self, key: ObjectKey, uid: str) -> dict[str, list[JobRecord]]:
        """This flow's Jobs; expectations the cache now shows (or that are too old) are
        dropped."""
        expected = self._expected.get(uid, {})
        namespace = key.partition("/")[0]
        deadline = time.monotonic() - EXPECTATION_TTL_S
        for name in list(expected):
            if expected[name][0] < deadline or self._jobs.store.get(f"{namespace}/{name}"):
                del expected[name]
        return observe_jobs(
            jobs=self._jobs.store,
            flow_key=key,
            flow_uid=uid,
            expected={n: job for n, (_, job) in expected.items()},
        )

    async def _observe(
        self, key: ObjectKey, uid: str, flow: JobFlow, obj: dict[str, Any]
    ) -> Observed:
        jobs = self._observe_jobs(key, uid)
        peers = observe_peers(flows=self._flows.store, flow=obj)
        observed = Observed(jobs=jobs, peers=peers)
        if flow.status is not None and flow.status.phase in FLOW_TERMINAL_PHASES:
            return observed
        return await self._read_outputs(flow, observed)

    async def _read_outputs(self, flow: JobFlow, observed: Observed) -> Observed:
        """Outputs of steps whose latest Job succeeded and whose status has none yet."""
        previous = {s.name: s for s in (flow.status.steps or [])} if flow.status else {}
        wanted = []
        for step in flow.spec.all_steps():
            if not step.outputs:
                continue
            records = [j for j in observed.jobs.get(step.name, ()) if j.owned]
            if not records:
                continue
            latest = max(records, key=lambda j: j.attempt)
            prev = previous.get(step.name)
            if latest.phase != "Succeeded":
                continue
            if prev is not None and prev.phase == "Succeeded" and prev.job_ref == latest.name:
                continue
            wanted.append((step, latest.name))
        if not wanted:
            return observed

        async def read(step_name: str, job_name: str) -> tuple[str, dict[str, str], str | None]:
            step = next(s for s in flow.spec.all_steps() if s.name == step_name)
            message = None
            if needs_termination_message(step):
                message = await self._executor.pod_termination_message(
                    namespace=flow.namespace, job=job_name
                )
            job = self._jobs.store.get(f"{flow.namespace}/{job_name}") or {}
            values, problem = extract_outputs(step=step, message=message, job=job)
            return step_name, values, problem

        results = await asyncio.gather(*(read(s.name, j) for s, j in wanted))
        outputs = {name: values for name, values, _ in results if values}
        problems = {name: p for name, _, p in results if p}
        return replace(observed, outputs=outputs, output_errors=problems)

    # -- writing -------------------------------------------------------------------------------

    async def _ensure_resources(self, flow: JobFlow, resources: list[dict[str, Any]]) -> str | None:
        manifests = []
        for res in resources:
            meta = dict(res.get("metadata") or {})
            meta["namespace"] = flow.namespace
            meta["ownerReferences"] = [owner_reference(flow)]
            manifests.append({**res, "metadata": meta})
        found = await asyncio.gather(
            *(self._executor.ensure_resource(m, flow_uid=flow.uid) for m in manifests)
        )
        conflicts = [c for c in found if c is not None]
        return "; ".join(conflicts) if conflicts else None

    async def _apply_jobs(
        self, flow: JobFlow, result: Plan
    ) -> tuple[list[BaseException], dict[str, tuple[str, str]]]:
        """Create and delete concurrently; returns transient errors and step conflicts."""
        creates = [self._executor.create_job(c.manifest, flow_uid=flow.uid) for c in result.creates]
        deletes = [
            self._executor.delete_job(namespace=flow.namespace, name=name)
            for name in result.deletes
        ]
        outcomes = await asyncio.gather(*creates, *deletes, return_exceptions=True)
        errors: list[BaseException] = []
        conflicts: dict[str, tuple[str, str]] = {}
        expected = self._expected.setdefault(flow.uid, {})
        for create, outcome in zip(result.creates, outcomes[: len(creates)], strict=True):
            if isinstance(outcome, BaseException):
                errors.append(outcome)
            elif outcome is None:
                continue
            elif outcome.conflict is not None:
                conflicts[create.step] = outcome.conflict
            elif outcome.job is not None:
                expected[create.manifest["metadata"]["name"]] = (time.monotonic(), outcome.job)
                self._metrics.jobs_created.inc()
        for name, outcome in zip(result.deletes, outcomes[len(creates) :], strict=True):
            expected.pop(name, None)
            if isinstance(outcome, BaseException):
                errors.append(outcome)
        for err in errors:
            if not isinstance(err, Exception):
                raise err
        return errors, conflicts

    async def _write_status(self, obj: dict[str, Any], flow: JobFlow, result: Plan) -> None:
        old = obj.get("status") or {}
        new = result.status.dump()
        if new == old:
            return
        patch: dict[str, Any] = dict(new)
        for gone in old.keys() - new.keys():
            patch[gone] = None
        meta = obj["metadata"]
        updated = await self._executor.patch_status(
            namespace=flow.namespace,
            name=flow.name,
            resource_version=str(meta.get("resourceVersion", "")),
            status=patch,
        )
        self.status_writes += 1
        self._metrics.status_writes.inc()
        if updated.get("metadata"):
            self._written[flow.uid] = strip_unused_metadata(updated)
        self._observe_durations(flow.status, result.status)

    def _observe_durations(self, old: JobFlowStatus | None, new: JobFlowStatus) -> None:
        before = {s.name: s.phase for s in (old.steps or [])} if old else {}
        for st in new.steps or []:
            if (
                st.phase in ("Succeeded", "Failed")
                and before.get(st.name) != st.phase
                and st.start_time is not None
                and st.completion_time is not None
            ):
                seconds = (st.completion_time - st.start_time).total_seconds()
                self._metrics.step_duration.labels(st.phase).observe(max(seconds, 0.0))

    def _forget_key(self, key: ObjectKey) -> None:
        """Drop everything remembered about the flow that had ``key``."""
        uid = self._uids.pop(key, None)
        if uid is None:
            return
        self._written.pop(uid, None)
        self._expected.pop(uid, None)
        self._specs.forget(uid)
        self._metrics.set_phase(uid, None)

    # -- invalid flows -------------------------------------------------------------------------

    async def reconcile_safely(self, key: ObjectKey) -> Result:
        """``reconcile`` with invalid flows recorded as such (the Controller's entry point)."""
        try:
            return await self.reconcile(key)
        except InvalidFlowError as exc:
            await self._record_invalid(exc.flow, exc.problems)
            raise TerminalError(f"invalid JobFlow: {exc.problems}") from None
        except KubeError:
            self._metrics.flow_errors.labels("api").inc()
            raise
        except Exception:
            self._metrics.flow_errors.labels("internal").inc()
            raise

    async def _record_invalid(self, flow: JobFlow, problems: str) -> None:
        prev = flow.status
        now = self._now()
        status = JobFlowStatus(
            phase="Failed",
            reason=REASON_INVALID,
            message=clip(problems),
            start_time=prev.start_time if prev else None,
            completion_time=prev.completion_time if prev and prev.completion_time else now,
            observed_generation=flow.generation,
            steps=[
                StepStatus(name=s.name, phase="Skipped", reason=REASON_INVALID)
                for s in flow.spec.all_steps()
            ]
            or None,
        )
        status.conditions = build_conditions(
            status=status,
            previous=prev.conditions if prev else None,
            queued_message=None,
            suspended=False,
            generation=flow.generation,
            now=now,
        )
        result = Plan(status=status, events=flow_events(previous=prev, current=status))
        raw = {"metadata": flow.metadata, "status": prev.dump() if prev else {}}
        await self._write_status(raw, flow, result)
        for spec in result.events:
            self._recorder.record(flow=raw, spec=spec)
        self._metrics.set_phase(flow.uid, "Failed")
