"""Registration point of zenflow's controllers on the Manager (called by ``zenflow controller``).

``setup_controllers`` builds the shared informers (JobFlows, CronJobFlows, zenflow's Jobs) and
adds them to the manager, then the JobFlow controller: a rate-limited queue of flow keys fed by

  * the JobFlow informer: every add/update/delete queues the flow; when a flow starts,
    finishes or goes away, the other flows of its concurrency group are queued too (Forbid
    queues wait on it; Replace cancels on it);
  * the Job informer: every event that changes what the controller reads of a Job (the
    compact cache, ``jobcache``) queues the owning flow at once (owner reference → key; not
    delayed, not rate-limited), so a Job's completion reaches its flow's reconcile immediately;
    an update that keeps a decided Job's outcome (``core.joboutcome.decision_kept``: the
    interim condition after the pod's success, ``Failed`` after ``FailureTarget``), or whose
    outcome the flow's cached status already records for its step (``recorded``: the final
    condition after the step was handed off), queues nothing: its reconcile would plan the
    same;
  * pod signals (``zenflow.controller.podsignals``): a watch on zenflow's succeeded pods, no
    pod cache; the first success seen for an unfinished Job queues its flow, whose reconcile
    may hand off at once when that pod already decides the Job (``core.joboutcome``);

and its workers (``needs_leader=True``), plus the Event recorder, which writes through its own
API client (same credentials, its own ``event_qps``/``event_burst`` rate limit) so Events never
wait behind, or delay, Job creates.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zenflow.api.constants import API_VERSION, JOBFLOW_KIND
from zenflow.controller.bootstrap import (
    ZenflowInformers,
    build_informers,
    new_events_api_client,
)
from zenflow.controller.cronjobflow.reconciler import setup_cron_controller
from zenflow.controller.events import EventRecorder, EventWriter
from zenflow.controller.jobflow.client import FlowClient
from zenflow.controller.jobflow.metrics import FlowMetrics
from zenflow.controller.jobflow.observed import GROUP_INDEX, PodOf, group_index
from zenflow.controller.jobflow.reconciler import JobFlowReconciler
from zenflow.controller.jobflow.templates import FlowTemplates
from zenflow.controller.notifications.setup import setup_notifications
from zenflow.controller.podsignals import PodSignals, succeeded_pods_lister_watcher
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.sharding.setup import add_sharder, shard_edges
from zenflow.core.joboutcome import PodSuccess, decision_kept, job_outcome, recorded
from zenflow.kube.rest import Rest
from zenflow.kube.transport import Transport
from zenflow.machinery.controller import Controller
from zenflow.machinery.informer import Informer, owner_key, without_version
from zenflow.machinery.manager import Manager
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import ObjectKey, key_of
from zenflow.machinery.watcher import Watcher

if TYPE_CHECKING:
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client import ApiClient

JOBFLOW_CONTROLLER = "jobflow"
STOP_FLUSH_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class JobFlowController:
    """What ``setup_controllers`` built (tests and the benchmark read counters from it)."""

    informers: ZenflowInformers
    queue: RateLimitingQueue[ObjectKey]
    reconciler: JobFlowReconciler
    client: FlowClient
    recorder: EventRecorder
    controller: Controller
    events_api: ApiClient | Transport
    """The Event recorder's own transport (its requests count apart from ``api_client``'s)."""
    pods: Watcher
    """zenflow's succeeded pods (no cache), feeding ``pod_signals``."""
    pod_signals: PodSignals


class _RecorderRunnable:
    """Runs the Event recorder; ``stop`` writes what is queued (bounded), then ends it."""

    name = "event-recorder"

    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self._task = asyncio.current_task()
        await self._recorder.run()

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_FLUSH_TIMEOUT_S):
                await self._recorder.flush()
        if self._task is not None:
            self._task.cancel()


def setup_controllers(
    manager: Manager, settings: ControllerSettings, api_client: client.ApiClient | Transport
) -> JobFlowController:
    """Wire informers and the JobFlow controller into ``manager`` (with ``settings.sharding``,
    on this replica's shard: ``zenflow.controller.sharding``)."""
    edges = shard_edges(manager, settings, api_client)
    informers = build_informers(
        api_client,
        namespace=settings.namespace,
        registry=manager.registry,
        stall_timeout=settings.watch_stall_timeout,
        shard=edges.shard if edges else None,
    )
    for informer in informers.all():
        manager.add_informer(informer)
    queue: RateLimitingQueue[ObjectKey] = RateLimitingQueue(
        JOBFLOW_CONTROLLER, metrics=manager.metrics.queue(JOBFLOW_CONTROLLER)
    )
    flow_client = (
        FlowClient(api_client, job_labels=edges.labels, field_manager=edges.field_manager)
        if edges
        else FlowClient(api_client)
    )
    events_api = new_events_api_client(api_client, settings)
    if events_api is not api_client:
        manager.add_cleanup(events_api.close)
    recorder = EventRecorder(EventWriter(events_api))
    pods = Watcher(
        succeeded_pods_lister_watcher(api_client, namespace=settings.namespace),
        stall_timeout=settings.watch_stall_timeout,
        metrics=manager.metrics,
    )
    manager.add_informer(pods)
    signals = PodSignals(jobs=informers.jobs, on_signal=lambda job: queue_owner(queue, job))
    pods.add_handler(signals.handle)
    reconciler = JobFlowReconciler(
        flows=informers.jobflows,
        jobs=informers.jobs,
        client=flow_client,
        recorder=recorder,
        metrics=FlowMetrics(manager.registry),
        pod_of=signals.of,
        templates=FlowTemplates(
            rest=Rest(api_client),
            templates=informers.templates.store,
            cluster=informers.cluster_templates.store,
        ),
    )
    route_events(flows=informers.jobflows, jobs=informers.jobs, queue=queue, pod_of=signals.of)
    reconcile = reconciler.reconcile_safely
    controller = Controller(
        JOBFLOW_CONTROLLER,
        queue,
        edges.guard_flows(informers)(reconcile) if edges else reconcile,
        workers=settings.workers,
        metrics=manager.metrics,
        on_terminal=reconciler.record_terminal,
    )
    manager.add_runnable(controller, needs_leader=True)
    manager.add_runnable(_RecorderRunnable(recorder), needs_leader=True)
    # CronJobFlows (zenflow.controller.cronjobflow): their own queue and controller on the same
    # caches.
    setup_cron_controller(
        manager,
        informers,
        api_client,
        recorder=recorder,
        run_labels=edges.labels if edges else None,
        wrap=edges.guard_crons(informers) if edges else None,
    )
    if edges:
        add_sharder(manager, settings, edges)
    # Notifications (zenflow.controller.notifications): their own queue and workers.
    setup_notifications(
        manager,
        flows=informers.jobflows,
        api_client=api_client,
        defaults_configmap=settings.notifications_configmap,
    )
    return JobFlowController(
        informers, queue, reconciler, flow_client, recorder, controller, events_api, pods, signals
    )


def changes_no_plan(
    old: dict[str, Any],
    new: dict[str, Any],
    pod: PodSuccess | None = None,
    flow_status: dict[str, Any] | None = None,
) -> bool:
    """A Job update no plan can tell from the version before: equal for the controller, or the
    same metadata and either the same decided outcome (``core.joboutcome.decision_kept``;
    ``pod``: the Job's pod success, if seen) or an outcome its flow's cached status already
    records for the Job's step (``core.joboutcome.recorded``)."""
    before, after = without_version(old), without_version(new)
    # Equal for the controller: the Job cache keeps only what it reads (``jobcache``), so the
    # Job controller's updates of its counters (active, ready, uncounted pods) queue nothing.
    if before == after:
        return True
    if before["metadata"] != after["metadata"]:
        return False
    if decision_kept(old, new, pod):
        return True
    name = str(new.get("metadata", {}).get("name", ""))
    return recorded(flow_status, name, job_outcome(new, pod).phase)


def queue_owner(queue: RateLimitingQueue[ObjectKey], job: dict[str, Any]) -> None:
    """Queue the JobFlow controlling ``job`` (a raw Job), if any."""
    key = owner_key(job, JOBFLOW_KIND, api_version=API_VERSION)
    if key is not None:
        queue.add(key)


def route_events(
    *,
    flows: Informer,
    jobs: Informer,
    queue: RateLimitingQueue[ObjectKey],
    pod_of: PodOf | None = None,
) -> None:
    """Informer event handlers that queue flow keys (handlers only enqueue); ``pod_of``: a
    Job's pod success seen (``PodSignals.of``)."""
    flows.add_indexer(GROUP_INDEX, group_index)

    def queue_peers(obj: dict[str, Any]) -> None:
        for value in group_index(obj):
            for peer in flows.store.index_keys(GROUP_INDEX, value):
                queue.add(peer)

    def on_flow_add(obj: dict[str, Any]) -> None:
        queue.add(key_of(obj))
        queue_peers(obj)

    def on_flow_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        queue.add(key_of(new))
        before = old.get("status") or {}
        after = new.get("status") or {}
        if (before.get("phase"), before.get("startTime")) != (
            after.get("phase"),
            after.get("startTime"),
        ):
            queue_peers(new)

    def on_flow_delete(obj: dict[str, Any]) -> None:
        queue.add(key_of(obj))
        queue_peers(obj)

    flows.add_event_handler(on_flow_add, on_flow_update, on_flow_delete)

    def on_job(obj: dict[str, Any]) -> None:
        key = owner_key(obj, JOBFLOW_KIND, api_version=API_VERSION)
        if key is not None:
            queue.add(key)

    def on_job_update(old: dict[str, Any], new: dict[str, Any]) -> None:
        key = owner_key(new, JOBFLOW_KIND, api_version=API_VERSION)
        if key is None:
            return
        flow = flows.store.get(key)
        status = flow.get("status") if flow is not None else None
        if not changes_no_plan(old, new, pod_of(new) if pod_of else None, status):
            queue.add(key)

    def on_job_add(obj: dict[str, Any]) -> None:
        # A Job that says nothing yet (no deciding condition) is one a reconcile of its flow
        # just created (remembered as expected) or one found by a (re)list, whose flow is queued
        # by its own add event: its appearance changes no plan.
        if (obj.get("status") or {}).get("conditions"):
            on_job(obj)

    jobs.add_event_handler(on_job_add, on_job_update, on_job)
