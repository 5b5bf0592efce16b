"""The node agent's API actions: the few requests a kubelet makes, on plain JSON dicts.

Requests go through zenflow's one request helper (``zenflow.kube.rest``: a timeout on every
request, errors translated once into zenflow's exception tree) and pods travel as dicts: the
agent never needs the generated models, and skipping their deserialization keeps it fast under
load (it also sidesteps the client's known failure to deserialize the V1Binding answer).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator
from typing import Any, Final

from kubernetes_asyncio import client

from zenflow.errors import (
    AlreadyExistsError,
    GoneError,
    KubeError,
    NotFoundError,
    UnreachableError,
)
from zenflow.kube.rest import MERGE_PATCH, Rest
from zenflow.kube.transport import Transport

REQUEST_TIMEOUT_S: Final = 30.0
# The server ends a watch after this long; the agent then resumes from its last resourceVersion.
WATCH_TIMEOUT_S: Final = 300
WATCH_READ_TIMEOUT_S: Final = WATCH_TIMEOUT_S + 30
"""A watch that delivers nothing (not even a bookmark) for this long is broken."""

Obj = dict[str, Any]


def retryable(exc: KubeError) -> bool:
    """Whether repeating the request may succeed: the server was unreachable, overloaded
    (429) or failing (5xx)."""
    status = exc.status or 0
    return isinstance(exc, UnreachableError) or status in (0, 429) or status >= 500


class AgentApi:
    """Requests of the node agent, all through one shared ApiClient (owned by the caller)."""

    def __init__(self, api: client.ApiClient | Transport) -> None:
        self._rest = Rest(api, timeout=REQUEST_TIMEOUT_S)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        return await self._rest.request(
            method, path, body=body, content_type=content_type, what=what
        )

    async def server_version(self) -> str:
        info = await self._call("GET", "/version", what="get /version")
        return str(info.get("gitVersion", "v0.0.0"))

    async def create_or_patch_node(self, node: Obj) -> None:
        """Create the Node, or merge-patch its metadata when it already exists."""
        name = node["metadata"]["name"]
        try:
            await self._call("POST", "/api/v1/nodes", what=f"create node {name}", body=node)
        except AlreadyExistsError:
            await self._call(
                "PATCH",
                f"/api/v1/nodes/{name}",
                what=f"patch node {name}",
                body={"metadata": node["metadata"], "spec": node.get("spec", {})},
                content_type=MERGE_PATCH,
            )

    async def patch_node_status(self, name: str, status: Obj) -> None:
        await self._call(
            "PATCH",
            f"/api/v1/nodes/{name}/status",
            what=f"patch node {name} status",
            body={"status": status},
            content_type=MERGE_PATCH,
        )

    async def renew_lease(self, lease: Obj) -> None:
        """Merge-patch the node's Lease (its spec carries renewTime), creating it if absent."""
        namespace, name = lease["metadata"]["namespace"], lease["metadata"]["name"]
        base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        try:
            await self._call(
                "PATCH",
                f"{base}/{name}",
                what=f"renew lease {namespace}/{name}",
                body={"spec": lease["spec"]},
                content_type=MERGE_PATCH,
            )
        except NotFoundError:
            await self._call("POST", base, what=f"create lease {namespace}/{name}", body=lease)

    async def bind_pod(self, *, namespace: str, name: str, uid: str, node: str) -> None:
        """Bind through pods/binding, the scheduler's request; the uid is a precondition."""
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        await self._call(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
            what=f"bind pod {namespace}/{name}",
            body=body,
        )

    async def patch_pod_status(self, *, namespace: str, name: str, uid: str, status: Obj) -> None:
        """Merge-patch the whole status (lists are replaced); the uid in the patch makes the
        server refuse it (409) for a new pod that reuses the name."""
        await self._call(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            what=f"patch pod {namespace}/{name} status",
            body={"metadata": {"uid": uid}, "status": status},
            content_type=MERGE_PATCH,
        )

    async def delete_pod_now(self, *, namespace: str, name: str, uid: str) -> None:
        """The kubelet's final delete (grace period 0) once the pod's processes are gone."""
        await self._call(
            "DELETE",
            f"/api/v1/namespaces/{namespace}/pods/{name}",
            what=f"delete pod {namespace}/{name}",
            body={
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": uid},
            },
        )

    async def config_map_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        try:
            obj = await self._call(
                "GET",
                f"/api/v1/namespaces/{namespace}/configmaps/{name}",
                what=f"get configmap {namespace}/{name}",
            )
        except NotFoundError:
            return None
        return dict(obj.get("data") or {})

    async def secret_data(self, *, namespace: str, name: str) -> dict[str, str] | None:
        try:
            obj = await self._call(
                "GET",
                f"/api/v1/namespaces/{namespace}/secrets/{name}",
                what=f"get secret {namespace}/{name}",
            )
        except NotFoundError:
            return None
        return {
            key: base64.b64decode(value).decode("utf-8", errors="replace")
            for key, value in (obj.get("data") or {}).items()
        }

    async def claim_exists(self, *, namespace: str, name: str) -> bool:
        """Whether the PersistentVolumeClaim exists (a pod mounting it waits until it does)."""
        try:
            await self._call(
                "GET",
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}",
                what=f"get persistentvolumeclaim {namespace}/{name}",
            )
        except NotFoundError:
            return False
        return True

    async def list_pods(self) -> tuple[list[Obj], str]:
        """Every pod in the cluster and the list's resourceVersion."""
        doc = await self._call("GET", "/api/v1/pods", what="list pods")
        return list(doc.get("items") or []), str(doc["metadata"]["resourceVersion"])

    async def watch_pods(self, *, resource_version: str) -> AsyncGenerator[tuple[str, Obj], None]:
        """Pod watch events ``(type, object)`` from ``resource_version`` (bookmarks included)
        until the server ends the watch. An expired resourceVersion raises GoneError; a line
        that is not JSON raises KubeError (the caller re-watches)."""
        what = "watch pods"
        lines = self._rest.lines(
            "/api/v1/pods",
            [
                ("watch", "true"),
                ("resourceVersion", resource_version),
                ("allowWatchBookmarks", "true"),
                ("timeoutSeconds", str(WATCH_TIMEOUT_S)),
            ],
            read=WATCH_READ_TIMEOUT_S,
            what=what,
        )
        try:
            async for line in lines:
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise KubeError(f"{what}: not a JSON line: {line[:200]!r}") from None
                yield decode_event(doc, what=what)
        finally:
            await lines.aclose()


def decode_event(doc: Obj, *, what: str) -> tuple[str, Obj]:
    kind = str(doc.get("type", ""))
    obj: Obj = doc.get("object") or {}
    if kind == "ERROR":
        code = int(obj.get("code") or 0)
        text = f"{what}: {code} {obj.get('reason', '')}: {obj.get('message', '')}"
        if code == 410:
            raise GoneError(text, status=code, reason=str(obj.get("reason", "")))
        raise KubeError(text, status=code, reason=str(obj.get("reason", "")))
    return kind, obj
