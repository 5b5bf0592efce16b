"""``FlowClient``: the JobFlow controller's API client for flows, Jobs, pods, resource templates
and Events -- the only place it writes to (or reads pods from) the API server.

Requests go through zenflow's one request helper (``zenflow.kube.rest``) on raw JSON (no model
classes: cheaper, and no round-trip through generated types that drop unknown fields): every
request carries a timeout, and errors arrive as zenflow's exception tree.

Semantics kept here:
  * ``create_job``: AlreadyExists is adopted when the existing Job's controller owner is this
    flow (same uid) -- also a Job another replica created before the flow moved to this one
    (sharding: names are deterministic, so a move never makes a second Job; the adopted Job
    gets this replica's labels); otherwise the step fails with a message naming the Job
    (``JobConflict``).
    A refusal for now (ResourceQuota, 429, 5xx, no answer) is a ``wait``, not an error.
  * ``ensure_resource``: the same for PVCs and ConfigMaps, except a foreign owner fails the
    whole flow (``ResourceConflict``); a workspace claim kept by ``reclaimPolicy: Retain`` has
    no owner and is recognised by its ``retained-for`` annotation.
  * ``patch_status``: a JSON merge patch to ``/status`` carrying the resourceVersion the status
    was computed from, so a status computed from a stale cache is refused (409) and recomputed.
  * deletes use propagationPolicy Background (Jobs, pods follow) and tolerate 404.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.api.reasons import REASON_JOB_CONFLICT, REASON_JOB_REJECTED
from zenflow.core.planning.jobwaits import create_refusal
from zenflow.core.planning.outputs import termination_message
from zenflow.core.planning.toolarge import refused_as_too_large
from zenflow.core.planning.workspaces import ANNOTATION_RETAINED_FOR
from zenflow.errors import AlreadyExistsError, KubeError, NotFoundError
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import DEFAULT_REQUEST_TIMEOUT_S, JSON, Query, Transport

if TYPE_CHECKING:
    from kubernetes_asyncio import client

_PLURALS: Final = {"PersistentVolumeClaim": "persistentvolumeclaims", "ConfigMap": "configmaps"}


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    """``job``: the created (or adopted) Job; ``conflict``: why it could not be used."""

    job: dict[str, Any] | None = None
    conflict: tuple[str, str] | None = None
    """(reason, message): the name is held by a foreign Job, or the Job was rejected."""
    wait: tuple[str, str] | None = None
    """(reason, message): refused for now (a ResourceQuota, throttling, a passing failure):
    the step waits and the create is tried again (``planning.jobwaits``)."""


class StatusTooLargeError(KubeError):
    """The API server refused a status write because the flow object would be too large."""


def _jobs_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/batch/v1/namespaces/{namespace}/jobs"
    return f"{base}/{name}" if name else base


def _flow_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{JOBFLOW_PLURAL}/{name}"


def _owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("controller") is True for r in refs)


def _retained_for(obj: Mapping[str, Any], uid: str) -> bool:
    """A workspace claim kept after its flow (reclaimPolicy Retain) created for flow ``uid``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(uid) and annotations.get(ANNOTATION_RETAINED_FOR) == uid


def _owned_by_namesake(obj: Mapping[str, Any], manifest: Mapping[str, Any]) -> bool:
    """``obj`` is controlled by a JobFlow with the name (but not the uid) of the manifest's."""
    ours = manifest["metadata"]["ownerReferences"][0]
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(
        r.get("kind") == ours["kind"] and r.get("name") == ours["name"] and r.get("controller")
        for r in refs
    )


class FlowClient:
    """API calls of the JobFlow reconciler, on one ``ApiClient`` (owned by the caller) or any
    ``Transport`` (a fake in unit tests)."""

    def __init__(
        self,
        api: client.ApiClient | Transport,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S,
        job_labels: Mapping[str, str] | None = None,
        field_manager: str | None = None,
    ) -> None:
        self._rest = Rest(api, timeout=request_timeout)
        self._job_labels = dict(job_labels or {})
        """Labels added to every Job created (the owner's shard label when sharding)."""
        self._manager: Query = (("fieldManager", field_manager),) if field_manager else ()
        """Writes name this field manager (each shard its own, so an audit sees who wrote)."""
        self.writes = 0
        """API writes issued (creates, patches, deletes), for tests and the benchmark."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Query = (),
        content_type: str = JSON,
    ) -> dict[str, Any]:
        if method != "GET":
            self.writes += 1
            if method != "DELETE":
                query = [*query, *self._manager]
        return await self._rest.request(
            method, path, query=query, body=body, content_type=content_type
        )

    # -- Jobs ------------------------------------------------------------------------------

    async def create_job(self, manifest: dict[str, Any], *, flow_uid: str) -> CreateOutcome:
        """Create the Job, or adopt the one of that name when this flow owns it."""
        namespace = manifest["metadata"]["namespace"]
        name = manifest["metadata"]["name"]
        if self._job_labels:
            meta = manifest["metadata"]
            manifest = {
                **manifest,
                "metadata": {**meta, "labels": {**(meta.get("labels") or {}), **self._job_labels}},
            }
        try:
            return CreateOutcome(job=await self._call("POST", _jobs_path(namespace), body=manifest))
        except AlreadyExistsError:
            pass
        except KubeError as exc:
            if exc.status in (400, 422):
                # The API server refuses this Job as built (e.g. a field the validator does
                # not check): retrying cannot help, the step fails with the server's message.
                return CreateOutcome(conflict=(REASON_JOB_REJECTED, str(exc)))
            words = str(exc).removeprefix(f"POST {_jobs_path(namespace)}: ")
            if (refusal := create_refusal(exc.status, words)) is not None:
                return CreateOutcome(wait=refusal)  # quota, throttled, 5xx: a wait
            raise
        try:
            existing = await self._call("GET", _jobs_path(namespace, name))
        except NotFoundError:
            # Deleted between our create and get (e.g. by the garbage collector): try again on
            # the next reconcile.
            raise
        if _owned_by(existing, flow_uid):
            return CreateOutcome(job=await self._adopt(existing, namespace=namespace, name=name))
        if _owned_by_namesake(existing, manifest):
            # A Job of a deleted flow of the same name, not yet garbage-collected: transient.
            raise KubeError(f"Job {name} still belongs to a deleted JobFlow of the same name")
        return CreateOutcome(
            conflict=(
                REASON_JOB_CONFLICT,
                f"Job {name} already exists and is not owned by this JobFlow",
            )
        )

    async def _adopt(self, job: dict[str, Any], *, namespace: str, name: str) -> dict[str, Any]:
        """Our own Job; when it lacks this controller's Job labels (made by a replica that owned
        the flow before), it gets them, so this replica's Job cache shows it."""
        labels = (job.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in self._job_labels.items()):
            return job
        body = {"metadata": {"labels": self._job_labels}}
        return await self._call(
            "PATCH", _jobs_path(namespace, name), body=body, content_type=MERGE_PATCH
        )

    async def delete_job(self, *, namespace: str, name: str) -> None:
        """Delete a Job and (in the background) its pods; a missing Job is fine."""
        with contextlib.suppress(NotFoundError):
            await self._call(
                "DELETE",
                _jobs_path(namespace, name),
                body={"propagationPolicy": "Background"},
            )

    async def pod_termination_message(
        self, *, namespace: str, job: str, job_uid: str
    ) -> str | None:
        """The termination message of the first container of the succeeded pod the Job
        ``job_uid`` controls (the Kubernetes-native output channel), or None when there is no
        such pod. Pods are selected by the Job controller's uid label and kept only when their
        controller owner reference is that Job: a pod labelled ``job-name=<job>`` by anyone
        else is never read."""
        pods = await self._call(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            query=[("labelSelector", f"batch.kubernetes.io/controller-uid={job_uid}")],
        )
        return termination_message(pods.get("items") or [], job_uid=job_uid)

    async def get_job(self, *, namespace: str, name: str) -> dict[str, Any]:
        return await self._call("GET", _jobs_path(namespace, name))

    # -- resource templates ------------------------------------------------------------------

    async def ensure_resource(self, manifest: dict[str, Any], *, flow_uid: str) -> str | None:
        """Create a PVC/ConfigMap owned by the flow; returns a conflict message when its name
        is held by an object the flow does not own."""
        kind = manifest["kind"]
        namespace = manifest["metadata"]["namespace"]
        name = manifest["metadata"]["name"]
        path = f"/api/v1/namespaces/{namespace}/{_PLURALS[kind]}"
        try:
            await self._call("POST", path, body=manifest)
            return None
        except AlreadyExistsError:
            existing = await self._call("GET", f"{path}/{name}")
        if _owned_by(existing, flow_uid) or _retained_for(existing, flow_uid):
            return None
        return f"{kind} {name} already exists and is not owned by this JobFlow"

    # -- the flow ----------------------------------------------------------------------------

    async def patch_status(
        self, *, namespace: str, name: str, resource_version: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource; returns the updated flow. A refusal because the
        object would be too large raises ``StatusTooLargeError``."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        path = _flow_path(namespace, name) + "/status"
        try:
            return await self._call("PATCH", path, body=body, content_type=MERGE_PATCH)
        except KubeError as exc:
            if refused_as_too_large(exc.status, str(exc)):
                words = str(exc).removeprefix(f"PATCH {path}: ")  # "500 …: etcdserver: …"
                raise StatusTooLargeError(words, status=exc.status) from exc
            raise

    async def patch_annotations(
        self, *, namespace: str, name: str, annotations: dict[str, str | None]
    ) -> dict[str, Any]:
        """Set (or, for None, remove) annotations of the flow."""
        body = {"metadata": {"annotations": annotations}}
        return await self._call(
            "PATCH", _flow_path(namespace, name), body=body, content_type=MERGE_PATCH
        )

    async def delete_flow(self, *, namespace: str, name: str, uid: str) -> None:
        """Delete the flow (TTL); dependents are garbage-collected in the background."""
        with contextlib.suppress(NotFoundError):
            await self._call(
                "DELETE",
                _flow_path(namespace, name),
                body={"propagationPolicy": "Background", "preconditions": {"uid": uid}},
            )

    async def create_event(self, *, namespace: str, event: dict[str, Any]) -> None:
        await self._call("POST", f"/api/v1/namespaces/{namespace}/events", body=event)
