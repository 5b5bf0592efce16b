"""The CronJobFlow controller: creates a JobFlow per schedule time, as CronJob does for Jobs.

Level-triggered on two caches: the CronJobFlow informer, and the JobFlow informer indexed by
owning CronJobFlow (``OWNER_INDEX``), so a run finishing re-reconciles its CronJobFlow at once.
Each reconcile reads the cache, asks ``zenflow.core.schedule.decide`` what to do at ``now`` (an
injected wall clock, so tests can move time), then acts: cancel active runs (Replace), create the
run (name ``<cron>-<unix minutes>``: a restart between create and status never duplicates it),
delete runs beyond the history limits, patch the status only when it changed, and requeue for
the next schedule time. What it did (or could not do) is also recorded as core/v1 Events on the
CronJobFlow (``zenflow.controller.cronjobflow.events``: RunCreated, RunSkipped, RunReplaced,
MissedSchedule, InvalidSchedule, ...) through the JobFlow controller's ``EventRecorder``.

Created JobFlows carry the template's labels and annotations, the label
``workflow.zen.io/cronjobflow=<name>``, the annotation ``workflow.zen.io/scheduled-time`` and a
controller owner reference to the CronJobFlow (deleting it deletes its runs).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from zenflow.api.constants import (
    ANNOTATION_CANCEL,
    API_VERSION,
    CRONJOBFLOW_KIND,
    JOBFLOW_KIND,
    LABEL_CRONJOBFLOW,
)
from zenflow.api.cronjobflow import CronJobFlowSpec
from zenflow.api.formats import format_time, parse_time
from zenflow.controller.bootstrap import ZenflowInformers
from zenflow.controller.cronjobflow import events as cron_events
from zenflow.controller.cronjobflow.client import CronApi
from zenflow.controller.events import EventRecorder
from zenflow.core.planning.flowstatus import EventSpec
from zenflow.core.schedule import (
    ANNOTATION_SCHEDULED_TIME,
    ChildRun,
    CronDecision,
    CronSpec,
    ScheduleError,
    decide,
)
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger
from zenflow.machinery.controller import Controller, Reconcile
from zenflow.machinery.informer import OWNER_INDEX, owner_key
from zenflow.machinery.manager import Manager
from zenflow.machinery.metrics import MachineryMetrics
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, Result, TerminalError, key_of, split_key

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)

CONTROLLER_NAME: Final = "cronjobflow"
CONDITION_READY: Final = "Ready"

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def child_run(obj: dict[str, Any]) -> ChildRun:
    """A run as the decisions see it, from a cached JobFlow."""
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return ChildRun(
        name=str(meta.get("name", "")),
        creation_time=parse_time(meta.get("creationTimestamp")) or datetime.fromtimestamp(0, UTC),
        phase=status.get("phase"),
        completion_time=parse_time(status.get("completionTime")),
        cancel_requested=ANNOTATION_CANCEL in (meta.get("annotations") or {}),
    )


def run_object(cron: dict[str, Any], *, name: str, scheduled: datetime) -> dict[str, Any]:
    """The JobFlow to create for ``scheduled``: the template, labelled and owned by ``cron``."""
    meta = cron["metadata"]
    template = cron["spec"]["jobFlowTemplate"]
    tmeta = template.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": JOBFLOW_KIND,
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {**(tmeta.get("labels") or {}), LABEL_CRONJOBFLOW: meta["name"]},
            "annotations": {
                **(tmeta.get("annotations") or {}),
                ANNOTATION_SCHEDULED_TIME: format_time(scheduled),
            },
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": CRONJOBFLOW_KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
    }


def _condition(
    current: list[dict[str, Any]], *, status: str, reason: str, message: str, now: datetime
) -> list[dict[str, Any]]:
    """The Ready condition, keeping lastTransitionTime while its status is unchanged."""
    old = next((c for c in current if c.get("type") == CONDITION_READY), None)
    said = (status, reason, message)
    if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == said:
        return current
    changed = old is None or old.get("status") != status
    return [
        *(c for c in current if c.get("type") != CONDITION_READY),
        {
            "type": CONDITION_READY,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": format_time(now)
            if changed or old is None
            else old.get("lastTransitionTime"),
        },
    ]


class CronReconciler:
    """Reconciles one CronJobFlow key from the informers' caches."""

    def __init__(
        self,
        *,
        informers: ZenflowInformers,
        api: CronApi,
        now: WallClock = utc_now,
        recorder: EventRecorder | None = None,
    ) -> None:
        self._informers = informers
        self._api = api
        self._now = now
        self._recorder = recorder
        self._skips = cron_events.SkipMemo()

    def _event(self, obj: dict[str, Any], spec: EventSpec) -> None:
        if self._recorder is not None:
            self._recorder.record(flow=obj, spec=spec, kind=CRONJOBFLOW_KIND)

    async def reconcile(self, key: ObjectKey) -> Result:
        obj = self._informers.cronjobflows.store.get(key)
        if obj is None:
            self._skips.forget(key)
            return Result()  # deleted: its runs go with it (owner references)
        namespace, name = split_key(key)
        now = self._now()
        status = dict(obj.get("status") or {})
        conditions = list(status.get("conditions") or [])
        try:
            # Only the spec is ours to judge; the status is what this controller wrote.
            spec = CronJobFlowSpec.model_validate(obj.get("spec") or {})
            decision = decide(
                spec=CronSpec(
                    name=name,
                    schedule=spec.schedule,
                    time_zone=spec.time_zone,
                    concurrency_policy=spec.concurrency_policy,
                    starting_deadline_seconds=spec.starting_deadline_seconds,
                    suspend=spec.suspend,
                    successful_history_limit=spec.successful_jobs_history_limit,
                    failed_history_limit=spec.failed_jobs_history_limit,
                ),
                creation_time=parse_time(obj["metadata"].get("creationTimestamp")) or now,
                last_schedule_time=parse_time(status.get("lastScheduleTime")),
                last_successful_time=parse_time(status.get("lastSuccessfulTime")),
                children=[child_run(c) for c in self._children(key)],
                now=now,
            )
        except (ValidationError, ScheduleError) as exc:
            message = str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc)
            if not _is_ready(conditions, status="False", reason="Invalid", message=message):
                # Once per new problem: the condition already says it otherwise.
                self._event(
                    obj,
                    cron_events.invalid(schedule=isinstance(exc, ScheduleError), message=message),
                )
            await self._write_status(
                obj,
                {
                    "conditions": _condition(
                        conditions, status="False", reason="Invalid", message=message, now=now
                    )
                },
            )
            raise TerminalError(f"CronJobFlow {key}: {message}") from exc
        await self._act(
            obj,
            namespace=namespace,
            decision=decision,
            starting_deadline_seconds=spec.starting_deadline_seconds,
        )
        return Result(requeue_after=decision.requeue_after)

    def _children(self, key: ObjectKey) -> list[dict[str, Any]]:
        return self._informers.jobflows.store.by_index(OWNER_INDEX, key)

    async def _act(
        self,
        obj: dict[str, Any],
        *,
        namespace: str,
        decision: CronDecision,
        starting_deadline_seconds: int | None,
    ) -> None:
        name = obj["metadata"]["name"]
        key = key_of(obj)
        for run in decision.cancel:
            await self._api.cancel_jobflow(namespace, run)
            log.info("cron_run_cancelled", cronjobflow=name, run=run, reason="Replace")
            self._event(obj, cron_events.run_replaced(cancelled=run, run=decision.create or ""))
        refs = {
            c["metadata"]["name"]: _ref(c)
            for c in self._children(key)
            if c["metadata"]["name"] in decision.active
        }
        if decision.create is not None and decision.scheduled_time is not None:
            body = run_object(obj, name=decision.create, scheduled=decision.scheduled_time)
            created = await self._api.create_jobflow(namespace, body)
            self._skips.forget(key)
            if created is not None:
                refs[decision.create] = _ref(created)
                self._event(
                    obj,
                    cron_events.run_created(run=decision.create, scheduled=decision.scheduled_time),
                )
                log.info(
                    "cron_run_created",
                    cronjobflow=name,
                    run=decision.create,
                    scheduled_time=format_time(decision.scheduled_time),
                    missed=decision.missed,
                )
            else:
                # The name is taken by a JobFlow the cache does not show as ours (not yet
                # observed, or someone else's): record the time so it is not retried forever.
                log.warning("cron_run_name_taken", cronjobflow=name, run=decision.create)
                self._event(obj, cron_events.run_name_taken(run=decision.create))
            if decision.too_many_missed:
                log.warning("cron_too_many_missed", cronjobflow=name)
                self._event(obj, cron_events.too_many_missed())
        elif decision.skipped in ("ConcurrencyForbid", "MissedDeadline"):
            log.info("cron_run_skipped", cronjobflow=name, reason=decision.skipped)
            event = cron_events.skip_event(
                decision, starting_deadline_seconds=starting_deadline_seconds
            )
            reason, scheduled = decision.skipped, decision.scheduled_time
            if event is not None and self._skips.first(key, reason=reason, scheduled=scheduled):
                self._event(obj, event)
        for run in decision.prune:
            await self._api.delete_jobflow(namespace, run)
            log.info("cron_run_pruned", cronjobflow=name, run=run)
            self._event(obj, cron_events.run_deleted(run=run))
        current = obj.get("status") or {}
        wanted: dict[str, Any] = {
            "lastScheduleTime": _fmt(decision.last_schedule_time),
            "lastSuccessfulTime": _fmt(decision.last_successful_time),
            "active": [refs[n] for n in sorted(refs)] or None,
            "observedGeneration": obj["metadata"].get("generation"),
            "conditions": _condition(
                list(current.get("conditions") or []),
                status="True",
                reason="Suspended" if decision.skipped == "Suspended" else "Scheduling",
                message="",
                now=self._now(),
            ),
        }
        await self._write_status(obj, wanted)

    async def _write_status(self, obj: dict[str, Any], wanted: dict[str, Any]) -> None:
        current = obj.get("status") or {}
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        meta = obj["metadata"]
        await self._api.patch_status(meta["namespace"], meta["name"], wanted)


def _is_ready(conditions: list[dict[str, Any]], *, status: str, reason: str, message: str) -> bool:
    """The Ready condition already says exactly this."""
    ready = next((c for c in conditions if c.get("type") == CONDITION_READY), None)
    return ready is not None and (
        ready.get("status"),
        ready.get("reason"),
        ready.get("message"),
    ) == (status, reason, message)


def _fmt(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _ref(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    ref = {"name": meta["name"], "namespace": meta.get("namespace")}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def setup_cron_controller(
    manager: Manager,
    informers: ZenflowInformers,
    api_client: client.ApiClient | Transport,
    *,
    workers: int = 1,
    now: WallClock = utc_now,
    recorder: EventRecorder | None = None,
    run_labels: Mapping[str, str] | None = None,
    wrap: Callable[[Reconcile], Reconcile] | None = None,
) -> Controller:
    """Route CronJobFlow and owned-JobFlow events to a queue and add the controller (leader
    only) to ``manager``; ``recorder`` (the JobFlow controller's) writes its Events;
    ``run_labels`` go on every run; ``wrap`` wraps the reconcile (the sharding drain guard)."""
    queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
        CONTROLLER_NAME, metrics=manager.metrics.queue(CONTROLLER_NAME)
    )
    controller = build_cron_controller(
        informers, CronApi(api_client, run_labels=run_labels), queue=queue, workers=workers,
        now=now, metrics=manager.metrics, recorder=recorder, wrap=wrap,
    )  # fmt: skip
    manager.add_runnable(controller, needs_leader=True)
    return controller


def build_cron_controller(
    informers: ZenflowInformers,
    api: CronApi,
    *,
    queue: RateLimitingQueue[ObjectKey],
    workers: int = 1,
    now: WallClock = utc_now,
    metrics: MachineryMetrics | None = None,
    recorder: EventRecorder | None = None,
    wrap: Callable[[Reconcile], Reconcile] | None = None,
) -> Controller:
    """The controller with its event handlers registered (for the manager, or run alone);
    without ``recorder`` it records no Events."""

    def enqueue(obj: dict[str, Any]) -> None:
        queue.add(key_of(obj))

    def enqueue_owner(obj: dict[str, Any]) -> None:
        owner = owner_key(obj, CRONJOBFLOW_KIND, api_version=API_VERSION)
        if owner is not None:
            queue.add(owner)

    informers.cronjobflows.add_event_handler(
        on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue
    )
    informers.jobflows.add_event_handler(
        on_add=enqueue_owner,
        on_update=lambda _old, new: enqueue_owner(new),
        on_delete=enqueue_owner,
    )
    reconciler = CronReconciler(informers=informers, api=api, now=now, recorder=recorder)
    reconcile = reconciler.reconcile if wrap is None else wrap(reconciler.reconcile)
    return Controller(CONTROLLER_NAME, queue, reconcile, workers, metrics=metrics)
