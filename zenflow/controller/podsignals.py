"""Pod signals: which of zenflow's unfinished Jobs have a pod that succeeded — the earliest sign
that a one-pod Job will end Complete (``zenflow.core.joboutcome``), about a second before the Job
controller writes it.

The source is a watch on zenflow's own pods only (label ``app.kubernetes.io/managed-by=zenflow``,
which every step's pod template carries; field ``status.phase=Succeeded``, so a pod is delivered
when it succeeds and barely otherwise) through a ``Watcher``: no pod cache at all. The watch
reads the pods' metadata only (``PartialObjectMetadata``: owner references, deletion
timestamp), a fraction of a pod's size: the field selector already says the phase, and the
success's time is when it is first seen (the pod's end, to the watch's latency). What is kept is
one small entry per Job: the uid of a Job whose pod succeeded (never deleted, controlled by that
Job) → when. Invariants: an entry exists only while the Job cache holds that Job (same uid) without
a final condition; the Job informer's handlers drop it when the Job turns final or goes away, and a
success seen for a Job that is already final is not kept. A success seen before the Job cache
shows its Job (the two watches race) waits in a bounded table (``MAX_UNMATCHED``, oldest dropped
first) until the Job's add event promotes it. So the entries are bounded by the Jobs in flight,
whatever the number of pods in the cluster.

A new entry calls ``on_signal`` with the cached Job (the wiring queues its flow). The reconciler
reads entries through ``of(job)`` when it builds the Job records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from zenflow import boundedjson
from zenflow.api.constants import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from zenflow.core.joboutcome import PodSuccess, job_outcome, pod_success
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.transport import Transport
from zenflow.machinery.informer import Informer
from zenflow.machinery.reconcile import make_key

if TYPE_CHECKING:
    from kubernetes_asyncio import client

MANAGED_PODS_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"
SUCCEEDED_FIELD_SELECTOR: Final = "status.phase=Succeeded"
MAX_UNMATCHED: Final = 1024
"""Successes kept for Jobs the cache does not show yet."""


def succeeded_pods_lister_watcher(
    api: client.ApiClient | Transport, *, namespace: str | None
) -> KubeListerWatcher:
    """zenflow's succeeded pods (label- and field-selected), metadata only."""
    return KubeListerWatcher(
        api,
        group="",
        version="v1",
        plural="pods",
        namespace=namespace,
        label_selector=MANAGED_PODS_SELECTOR,
        field_selector=SUCCEEDED_FIELD_SELECTOR,
        metadata_only=True,
        # Only owner references and the deletion timestamp are read (no recursion into the
        # object): the decoder's own bound is enough, the text is not scanned for its depth.
        max_depth=boundedjson.DECODER_DEPTH,
    )


class PodSignals:
    """Job uid → the success of a pod it controls, for Jobs in flight (see the module doc)."""

    def __init__(
        self,
        *,
        jobs: Informer,
        on_signal: Callable[[dict[str, Any]], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._jobs = jobs
        self._on_signal = on_signal
        self._now = now
        self._succeeded: dict[str, PodSuccess] = {}
        self._unmatched: dict[str, PodSuccess] = {}  # by Job uid, oldest first
        self.signals = 0
        """Entries made so far (each one saved its step the wait for the Job's condition)."""
        jobs.add_event_handler(
            on_add=self._job_added, on_update=self._job_updated, on_delete=self._job_gone
        )

    def __len__(self) -> int:
        return len(self._succeeded)

    def of(self, job: Mapping[str, Any]) -> PodSuccess | None:
        """The pod success seen for ``job`` (a raw Job), if any."""
        uid = (job.get("metadata") or {}).get("uid")
        return self._succeeded.get(uid) if isinstance(uid, str) else None

    def handle(self, event_type: str, pod: dict[str, Any]) -> None:
        """A ``Watcher`` handler for zenflow's succeeded pods (whole, or their metadata)."""
        if event_type == "DELETED":
            return  # a success, once seen, is counted by the Job controller all the same
        found = pod_success(pod, seen=self._now())
        if found is None or found[0] in self._succeeded:
            return
        uid, success = found
        job = self._job(pod, uid)
        if job is None:
            self._unmatched[uid] = success
            while len(self._unmatched) > MAX_UNMATCHED:
                del self._unmatched[next(iter(self._unmatched))]
            return
        self._keep(uid, success, job)

    def _keep(self, uid: str, success: PodSuccess, job: dict[str, Any]) -> None:
        if job_outcome(job).final:
            return
        self._succeeded[uid] = success
        self.signals += 1
        if self._on_signal is not None:
            self._on_signal(job)

    def _job(self, pod: Mapping[str, Any], uid: str) -> dict[str, Any] | None:
        meta = pod.get("metadata") or {}
        for ref in meta.get("ownerReferences") or []:
            if isinstance(ref, Mapping) and ref.get("uid") == uid:
                name = str(ref.get("name", ""))
                job = self._jobs.store.get(make_key(str(meta.get("namespace", "")), name))
                if job is not None and (job.get("metadata") or {}).get("uid") == uid:
                    return job
        return None

    def _job_added(self, job: dict[str, Any]) -> None:
        uid = (job.get("metadata") or {}).get("uid")
        if isinstance(uid, str) and (success := self._unmatched.pop(uid, None)) is not None:
            self._keep(uid, success, job)

    def _job_updated(self, _old: dict[str, Any], new: dict[str, Any]) -> None:
        if job_outcome(new).final:
            self._job_gone(new)

    def _job_gone(self, job: dict[str, Any]) -> None:
        uid = (job.get("metadata") or {}).get("uid")
        if isinstance(uid, str):
            self._succeeded.pop(uid, None)
            self._unmatched.pop(uid, None)
