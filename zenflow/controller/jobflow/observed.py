"""Build the planner's ``Observed`` from the informer caches (and the few reads it needs).

Jobs come from the Job informer's owner index (this flow's key), keeping only those controlled by
this flow's uid (a deleted namesake's Jobs awaiting garbage collection are ignored), plus the
Jobs this controller created but the cache has not shown yet ("expectations", as client-go's
ReplicaSet controller keeps them), so a reconcile racing its own watch never re-plans a create.
A cached Job's record also weighs the success of its pod when one was seen (``PodSignals``):
``core.joboutcome`` decides whether that already fixes the Job's outcome. Peers are the other
flows of the same concurrency group, from the flow informer's group index.
Conflicts the last reconcile met come from the reconciler's memory; outputs are read as
``planning.outputreads`` asks (a pod's termination message from the API server, a Job from the
cache, or from the API server for a JSONPath over it: the Job cache is compact) and turned
into ``Observed.outputs`` by it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from zenflow.api.formats import parse_time
from zenflow.api.jobflow import JobFlow
from zenflow.api.status import FLOW_TERMINAL_PHASES
from zenflow.controller.jobcache import compact_job
from zenflow.controller.jobflow.client import FlowClient
from zenflow.controller.jobflow.memory import FlowMemory
from zenflow.core.observed import JobRecord, Observed, PeerFlow, PodSuccess, job_record
from zenflow.core.planning.concurrency import concurrency_group
from zenflow.core.planning.derive import unseen_jobs
from zenflow.core.planning.outputreads import (
    OutputAnswer,
    OutputRead,
    observe_outputs,
    output_reads,
)
from zenflow.core.planning.outputs import reads_job
from zenflow.errors import NotFoundError
from zenflow.machinery.informer import OWNER_INDEX
from zenflow.machinery.store import Store

GROUP_INDEX: Final = "concurrency-group"

PodOf = Callable[[Mapping[str, Any]], PodSuccess | None]
"""A Job's pod success seen so far, if any (``zenflow.controller.podsignals.PodSignals.of``)."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def group_index(obj: dict[str, Any]) -> list[str]:
    """Index a JobFlow by ``<namespace>/<concurrency group>`` (none when it is alone)."""
    meta = obj.get("metadata") or {}
    group = concurrency_group(meta)
    return [f"{meta.get('namespace', '')}/{group}"] if group else []


def observe_jobs(
    *,
    jobs: Store,
    flow_key: str,
    flow_uid: str,
    expected: Mapping[str, dict[str, Any]],
    pod_of: PodOf | None = None,
) -> dict[str, list[JobRecord]]:
    """This flow's Jobs by step; ``expected`` (name → created Job) fills in cache misses;
    ``pod_of`` tells the pod success seen for a cached Job (``PodSignals.of``)."""
    out: dict[str, list[JobRecord]] = {}
    seen: set[str] = set()
    for job in jobs.by_index(OWNER_INDEX, flow_key):
        record = job_record(job, flow_uid=flow_uid, pod=pod_of(job) if pod_of else None)
        if record is None or not record.owned:
            continue
        seen.add(record.name)
        out.setdefault(record.step, []).append(record)
    for name, job in expected.items():
        if name in seen:
            continue
        record = job_record(job, flow_uid=flow_uid)
        if record is not None and record.owned:
            out.setdefault(record.step, []).append(record)
    return out


def observe_peers(*, flows: Store, flow: dict[str, Any]) -> list[PeerFlow]:
    """The other flows of ``flow``'s concurrency group."""
    keys = group_index(flow)
    if not keys:
        return []
    uid = (flow.get("metadata") or {}).get("uid")
    out = []
    for other in flows.by_index(GROUP_INDEX, keys[0]):
        meta = other.get("metadata") or {}
        if meta.get("uid") == uid or meta.get("deletionTimestamp"):
            continue
        status = other.get("status") or {}
        spec = other.get("spec") or {}
        policy = (spec.get("executionPolicy") or {}).get("concurrencyPolicy") or "Allow"
        out.append(
            PeerFlow(
                name=str(meta.get("name", "")),
                created=parse_time(meta.get("creationTimestamp")) or _EPOCH,
                policy=str(policy),
                finished=status.get("phase") in FLOW_TERMINAL_PHASES,
                started=bool(status.get("startTime")),
            )
        )
    return out


class Observer:
    """Builds ``Observed`` for the reconciler from its caches, memory and API client."""

    def __init__(
        self,
        *,
        jobs: Store,
        flows: Store,
        memory: FlowMemory,
        client: FlowClient,
        pod_of: PodOf | None = None,
    ):
        self._jobs, self._flows, self._memory, self._client = jobs, flows, memory, client
        self._pod_of = pod_of

    async def observe(self, key: str, obj: dict[str, Any], flow: JobFlow) -> Observed:
        """Everything ``plan`` sees besides ``flow`` (whose raw form is ``obj``): its Jobs (the
        cache plus our creates it does not show yet), peers, the conflicts the last reconcile
        met, and the outputs the core asks to read."""
        jobs, memory, uid = self._jobs, self._memory, flow.uid
        created = memory.expected.pending(uid, cached=lambda n: f"{flow.namespace}/{n}" in jobs)
        by_step = observe_jobs(
            jobs=jobs, flow_key=key, flow_uid=uid, expected=created, pod_of=self._pod_of
        )
        vanished = await self._look_up_unseen(flow, by_step)
        observed = Observed(
            jobs=by_step,
            peers=observe_peers(flows=self._flows, flow=obj),
            resource_conflict=memory.resource_conflict(uid),
            create_conflicts=memory.create_conflicts(uid),
        ).checked(vanished)
        reads = output_reads(flow, by_step)
        waits = memory.create_waits(uid)  # creates refused for now: the steps wait
        if not reads:
            return observed.waiting(waits)
        readers = {s.name for s in flow.spec.all_steps() if reads_job(s)}
        answers = await asyncio.gather(
            *(self._answer(flow.namespace, r, read_job=r.step in readers) for r in reads)
        )
        return observe_outputs(flow, observed, answers).waiting(waits)

    async def _look_up_unseen(
        self, flow: JobFlow, by_step: dict[str, list[JobRecord]]
    ) -> frozenset[str]:
        """The Jobs the status counts on that the cache does not show are read from the API
        server: one found (a lagging watch) joins ``by_step`` and is expected; the names of
        those not found (deleted) are returned. Rare: normally the cache shows them all."""
        unseen = unseen_jobs(flow.status.steps or [] if flow.status else [], by_step)
        if not unseen:
            return frozenset()
        found = await asyncio.gather(
            *(self._client.get_job(namespace=flow.namespace, name=n) for n in unseen),
            return_exceptions=True,
        )
        vanished = set()
        for name, job in zip(unseen, found, strict=True):
            if isinstance(job, NotFoundError):
                vanished.add(name)
            elif isinstance(job, BaseException):
                raise job  # unknown: decide nothing now, the reconcile is retried
            elif (record := job_record(job, flow_uid=flow.uid)) is not None and record.owned:
                by_step.setdefault(record.step, []).append(record)
                self._memory.expected.expect(flow.uid, name, compact_job(job))
        return frozenset(vanished)

    async def _answer(self, namespace: str, read: OutputRead, *, read_job: bool) -> OutputAnswer:
        """The termination message is read from the pod the cached Job controls (by its uid);
        a JSONPath output reads the Job from the API server (``read_job``): the cache keeps only
        what the controller itself reads (``controller.jobcache``)."""
        job = self._jobs.get(f"{namespace}/{read.job}") or {}
        if read_job:
            with contextlib.suppress(NotFoundError):
                job = await self._client.get_job(namespace=namespace, name=read.job)
        uid = (job.get("metadata") or {}).get("uid")
        message = None
        if read.termination_message and isinstance(uid, str) and uid:
            message = await self._client.pod_termination_message(
                namespace=namespace, job=read.job, job_uid=uid
            )
        return OutputAnswer(read, message, job)
