"""The sharder: whichever replica holds the sharder Lease labels every JobFlow and CronJobFlow
with its owner (``workflow.zen.io/shard``), by the pure ``machinery.sharding.decide``.

While it holds the Lease (``--lease-name``, the leader election Lease of an unsharded
controller, so a sharded and an unsharded controller never both act) it runs its own caches
-- JobFlows metadata-only, CronJobFlows slimmed, the membership Leases -- and, whenever an
object comes or goes or its labels change (not for a status write), the live members change, a
member's Lease may have expired, or a write failed (within a retry period), decides and
applies:

  * assign: relabel the object's Jobs for the new owner first (when it may have Jobs), then
    label the object, carrying the resourceVersion the decision read (a 409 means the object
    changed: the next pass decides again);
  * drain: mark the object ``workflow.zen.io/drain=true`` (resourceVersion-checked); its live
    owner acknowledges by removing both labels (``drain``), after which it is assigned.

Invariants: an action is applied once per resourceVersion (a pass racing its own watch does
not repeat it); losing the Lease cancels the work and the caches at once and the replica goes
back to campaigning (its own reconciling, gated by its membership Lease, goes on); on stop the
Lease is released. Membership Leases dead for ``LEASE_GC_FACTOR`` lease durations and owning
nothing are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry

from zenflow.api.constants import (
    CRONJOBFLOW_KIND,
    CRONJOBFLOW_PLURAL,
    GROUP,
    JOBFLOW_KIND,
    JOBFLOW_PLURAL,
    LABEL_DRAIN,
    LABEL_JOBFLOW,
    LABEL_SHARD,
    LABEL_SHARD_LEASE,
    VERSION,
)
from zenflow.controller.leases import lease_elector
from zenflow.controller.settings import ControllerSettings
from zenflow.controller.sharding.membership import Members, shard_identity
from zenflow.controller.sharding.metrics import ShardMetrics
from zenflow.controller.sharding.placements import placement_of, slim_cron, slim_flow
from zenflow.core.planning.jobspec import label_value
from zenflow.errors import ConflictError, KubeError, NotFoundError
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import Transport
from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.informer import Informer, without_version
from zenflow.machinery.metrics import machinery_metrics
from zenflow.machinery.reconcile import split_key
from zenflow.machinery.ring import Ring
from zenflow.machinery.sharding import Action, decide

if TYPE_CHECKING:
    from kubernetes_asyncio import client

log = get_logger(__name__)

BATCH_S: Final = 0.05
"""A pass waits this long after the first change, so a burst of creates costs one pass."""
PARALLEL_WRITES: Final = 16
LEASE_GC_FACTOR: Final = 10.0
JOBS_PER_LIST: Final = 40
_PLURAL = {JOBFLOW_KIND: JOBFLOW_PLURAL, CRONJOBFLOW_KIND: CRONJOBFLOW_PLURAL}


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    shard: str | None


class Sharder:
    """A runnable (``needs_leader``: it runs on members only) that campaigns for the sharder
    Lease and assigns while it holds it."""

    name = "sharder"

    def __init__(
        self,
        settings: ControllerSettings,
        api: client.ApiClient | Transport,
        *,
        lease_api: client.ApiClient | Transport,
        identity: str,
        field_manager: str,
        metrics: ShardMetrics,
        registry: CollectorRegistry,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._api = api
        self._rest = Rest(api)
        self._manager = (("fieldManager", field_manager),)
        self._metrics = metrics
        self._registry = registry
        self._clock: Clock = clock or RealClock()
        self.elector = lease_elector(
            settings,
            lease_api,
            name=settings.lease_name,
            identity=identity,
            clock=self._clock,
            metrics=machinery_metrics(registry),
        )
        self._task: asyncio.Task[None] | None = None
        self._log = log.bind(identity=identity)

    async def run(self) -> None:
        self._task = asyncio.current_task()
        while True:
            await self.elector.acquire()
            self._log.info("sharder_started")
            work = asyncio.create_task(self._assign_while_leading(), name="sharder-work")
            renew = asyncio.create_task(self.elector.renew_until_lost(), name="sharder-renew")
            try:
                await asyncio.wait({work, renew}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (work, renew):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if work.done() and not work.cancelled() and work.exception() is not None:
                self._log.error("sharder_failed", error=repr(work.exception()))
            self._log.info("sharder_stopped")

    async def stop(self) -> None:
        """Stop assigning and release the sharder Lease (another member takes over at once)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.elector.release()

    # -- one term as sharder --------------------------------------------------------------------

    async def _assign_while_leading(self) -> None:
        settings = self._settings
        members = Members(clock=self._clock)
        changed = asyncio.Event()
        stall = settings.watch_stall_timeout
        metrics = machinery_metrics(self._registry)

        def source(plural: str, **kw: Any) -> KubeListerWatcher:
            return KubeListerWatcher(self._api, group=GROUP, version=VERSION, plural=plural, **kw)

        flows = Informer(
            source(JOBFLOW_PLURAL, namespace=settings.namespace, metadata_only=True),
            stall_timeout=stall, metrics=metrics, transform=slim_flow,
        )  # fmt: skip
        crons = Informer(
            source(CRONJOBFLOW_PLURAL, namespace=settings.namespace),
            stall_timeout=stall, metrics=metrics, transform=slim_cron,
        )  # fmt: skip
        leases = Informer(
            KubeListerWatcher(
                self._api, group="coordination.k8s.io", version="v1", plural="leases",
                namespace=settings.leader_election_namespace,
                label_selector=f"{LABEL_SHARD_LEASE}={settings.lease_name}",
            ),
            stall_timeout=stall, metrics=metrics,
        )  # fmt: skip

        def on_change(*_objs: dict[str, Any]) -> None:
            changed.set()

        def on_update(old: dict[str, Any], new: dict[str, Any]) -> None:
            # A status write changes nothing the decision reads (the slim object keeps the
            # labels and the history mark): no pass over every object for it.
            if without_version(old) != without_version(new):
                changed.set()

        def on_lease(*objs: dict[str, Any]) -> None:
            before = (members.alive(), members.ready())
            members.observe(objs[-1])
            if (members.alive(), members.ready()) != before:
                changed.set()

        def on_lease_gone(obj: dict[str, Any]) -> None:
            members.forget(obj)
            changed.set()

        for informer in (flows, crons):
            informer.add_event_handler(on_change, on_update, on_change)
        leases.add_event_handler(on_lease, on_lease, on_lease_gone)
        caches = [flows, crons, leases]
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(i.run(), name=f"sharder-{i.resource}") for i in caches]
            try:
                await asyncio.gather(*(i.wait_synced() for i in caches))
                self._log.info(
                    "sharder_synced", flows=len(flows.store), members=len(members.alive())
                )
                await self._loop(flows, crons, leases, members, changed)
            finally:
                for task in tasks:
                    task.cancel()

    async def _loop(
        self,
        flows: Informer,
        crons: Informer,
        leases: Informer,
        members: Members,
        changed: asyncio.Event,
    ) -> None:
        done: dict[tuple[str, str], str] = {}  # (kind key, verb) -> resourceVersion acted on
        ring = Ring([])
        while True:
            alive, ready = members.alive(), members.ready()
            self._metrics.members.set(len(ready))
            if ready != ring.members:
                ring = Ring(ready)
                self._log.info("sharder_members_changed", members=sorted(ready))
            placements = [placement_of(o, JOBFLOW_KIND) for o in flows.store.list()]
            placements += [placement_of(o, CRONJOBFLOW_KIND) for o in crons.store.list()]
            actions = [
                a
                for a in decide(placements, alive, ring)
                if done.get((a.placement.key, a.placement.kind)) != a.placement.resource_version
            ]
            # A write that failed (a conflict, say) is decided again within a retry period.
            failed = bool(actions) and not await self._apply(actions, done)
            await self._collect_leases(leases, members, placements)
            if len(done) > 4 * len(placements) + 1000:
                done.clear()
            expiry = members.next_expiry()
            wait = self._settings.retry_period if expiry is None else min(expiry + 0.05, 60.0)
            if failed:
                wait = min(wait, self._settings.retry_period)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()
            changed.clear()
            await self._clock.sleep(BATCH_S)

    async def _apply(self, actions: list[Action], done: dict[tuple[str, str], str]) -> bool:
        """Apply ``actions``; False when any was not applied (the caller decides again)."""
        limit = asyncio.Semaphore(PARALLEL_WRITES)
        total, applied = len(actions), [0]
        moving = [a for a in actions if a.move_jobs and a.placement.kind == JOBFLOW_KIND]
        try:
            jobs = await self._jobs_of(moving)
        except KubeError as exc:
            # Never assign a flow whose Jobs could not be moved with it: the next pass retries.
            self._log.warning("sharder_jobs_list_failed", error=str(exc))
            unmoved = {id(a) for a in moving}
            actions = [a for a in actions if id(a) not in unmoved]
            jobs = {}

        async def one(action: Action) -> None:
            async with limit:
                try:
                    await self._act(action, jobs)
                except (ConflictError, NotFoundError):
                    return  # changed or gone meanwhile: the next pass decides again
                except KubeError as exc:
                    self._log.warning(
                        "sharder_write_failed", flow=action.placement.key, error=str(exc)
                    )
                    return
                p = action.placement
                done[(p.key, p.kind)] = p.resource_version
                applied[0] += 1

        await asyncio.gather(*(one(a) for a in actions))
        return applied[0] == total

    async def _act(self, action: Action, jobs: dict[tuple[str, str], list[_Job]]) -> None:
        p = action.placement
        namespace, name = split_key(p.key)
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{_PLURAL[p.kind]}/{name}"
        if action.verb == "drain":
            await self._label(path, p.resource_version, {LABEL_DRAIN: "true"})
            self._metrics.drains_requested.labels(p.kind).inc()
            self._log.info(
                "shard_drain_requested", kind=p.kind, flow=p.key, shard=p.owner, to=action.to
            )
            return
        if action.move_jobs and p.kind == JOBFLOW_KIND:
            await self._move_jobs(
                namespace, jobs.get((namespace, label_value(name)), []), action.to
            )
        await self._label(path, p.resource_version, {LABEL_SHARD: action.to, LABEL_DRAIN: None})
        self._metrics.assignments.labels(p.kind, action.reason).inc()
        self._log.info(
            "shard_assigned", kind=p.kind, flow=p.key, shard=action.to, reason=action.reason,
            previous=p.owner or "",
        )  # fmt: skip

    async def _label(self, path: str, version: str, labels: dict[str, str | None]) -> None:
        body = {"metadata": {"resourceVersion": version, "labels": labels}}
        await self._rest.request(
            "PATCH", path, query=self._manager, body=body, content_type=MERGE_PATCH
        )

    async def _jobs_of(self, actions: list[Action]) -> dict[tuple[str, str], list[_Job]]:
        """The Jobs of the flows ``actions`` move, by (namespace, flow label): one list per
        namespace and ``JOBS_PER_LIST`` flows (a set-based selector), not one per flow."""
        flows: dict[str, list[str]] = {}
        for a in actions:
            namespace, name = split_key(a.placement.key)
            flows.setdefault(namespace, []).append(label_value(name))
        found: dict[tuple[str, str], list[_Job]] = {}
        for namespace, names in flows.items():
            path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
            for start in range(0, len(names), JOBS_PER_LIST):
                chunk = ",".join(sorted(set(names[start : start + JOBS_PER_LIST])))
                query = [("labelSelector", f"{LABEL_JOBFLOW} in ({chunk})")]
                listed = await self._rest.request("GET", path, query=query)
                for job in listed.get("items") or []:
                    meta = job.get("metadata") or {}
                    labels = meta.get("labels") or {}
                    key = (namespace, str(labels.get(LABEL_JOBFLOW, "")))
                    found.setdefault(key, []).append(
                        _Job(str(meta.get("name", "")), labels.get(LABEL_SHARD))
                    )
        return found

    async def _move_jobs(self, namespace: str, jobs: list[_Job], shard: str) -> None:
        """Relabel the flow's Jobs for ``shard`` before the flow itself, so the new owner's Job
        cache holds them when its first reconcile runs."""
        path = f"/apis/batch/v1/namespaces/{namespace}/jobs"
        body = {"metadata": {"labels": {LABEL_SHARD: shard}}}

        async def relabel(job: _Job) -> None:
            with contextlib.suppress(NotFoundError):
                await self._rest.request(
                    "PATCH", f"{path}/{job.name}", query=self._manager, body=body,
                    content_type=MERGE_PATCH,
                )  # fmt: skip

        await asyncio.gather(*(relabel(job) for job in jobs if job.shard != shard))

    async def _collect_leases(
        self, leases: Informer, members: Members, placements: list[Any]
    ) -> None:
        """Delete membership Leases long dead that own nothing (each restart makes a new one)."""
        grace = LEASE_GC_FACTOR * self._settings.lease_duration
        owners = {p.owner for p in placements}
        for name in members.dead_leases(grace=grace):
            lease = leases.store.get(f"{self._settings.leader_election_namespace}/{name}")
            holder = ((lease or {}).get("spec") or {}).get("holderIdentity") or ""
            if lease is None or shard_identity(holder) in owners:
                continue
            path = (
                f"/apis/coordination.k8s.io/v1/namespaces/"
                f"{self._settings.leader_election_namespace}/leases/{name}"
            )
            with contextlib.suppress(KubeError):
                await self._rest.request("DELETE", path)
                self._log.info("shard_lease_collected", lease=name)
