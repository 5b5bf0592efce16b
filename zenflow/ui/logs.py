"""A step's log: the newest pod of one of its Jobs, read through the API server's pod log API
(``GET /api/v1/namespaces/NS/pods/POD/log``) with the user's credentials, and streamed to the
browser as plain text (``follow=1`` keeps it open while the container runs).

Whatever the API server answers instead of a log — no pod yet, RBAC, or the kubelet's log
endpoint being unreachable — is returned verbatim with its status, for the page to show as is.
A non-follow read is capped at ``MAX_LOG_BYTES`` (the API server cuts it); a followed one ends
when the container ends or the browser goes away.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from zenflow.api.naming import is_dns1123_label
from zenflow.errors import KubeError
from zenflow.kube.listwatch import collection_path
from zenflow.logging import get_logger
from zenflow.ui.routes import refusal
from zenflow.ui.state import STATE

log = get_logger(__name__)

MAX_LOG_BYTES = 4 * 1024 * 1024
TAIL_LINES_FOLLOW = 2000


def newest_pod(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pod created last (the current try of the Job), ties broken by name."""

    def age(pod: dict[str, Any]) -> tuple[str, str]:
        meta = pod.get("metadata") or {}
        return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")

    return max(pods, key=age, default=None)


def containers_of(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for c in spec.get("containers") or [] if c.get("name")]


async def step_log(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    namespace = request.match_info["namespace"]
    job = request.query.get("job", "")
    if len(job) > 253 or not all(is_dns1123_label(p) for p in job.split(".")):
        return web.json_response({"error": f"invalid Job name {job!r}"}, status=400)
    follow = request.query.get("follow") == "1"
    pods_path = collection_path(group="", version="v1", plural="pods", namespace=namespace)
    try:
        doc = await state.rest.get(pods_path, [("labelSelector", f"job-name={job}")])
    except KubeError as exc:
        return refusal(exc)
    pod = newest_pod([p for p in doc.get("items") or [] if isinstance(p, dict)])
    if pod is None:
        return web.json_response({"error": f"Job {job} has no pod (yet, or any more)"}, status=404)
    pod_name = str((pod.get("metadata") or {}).get("name"))
    containers = containers_of(pod)
    container = request.query.get("container") or (containers[0] if containers else "")
    query = [("container", container)]
    query += [("follow", "true"), ("tailLines", str(TAIL_LINES_FOLLOW))] if follow else []
    query += [] if follow else [("limitBytes", str(MAX_LOG_BYTES))]
    chunks = state.rest.stream(f"{pods_path}/{pod_name}/log", query)
    try:
        first = await anext(chunks, b"")
    except KubeError as exc:
        return refusal(exc)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "X-Zenflow-Pod": pod_name,
            "X-Zenflow-Container": container,
            "X-Zenflow-Containers": ",".join(containers),
        }
    )
    await response.prepare(request)
    try:
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    except KubeError as exc:
        await response.write(f"\n[zenflow ui: the log stream ended: {exc}]\n".encode())
    except (ConnectionResetError, ConnectionError):
        log.debug("ui_log_reader_gone", pod=pod_name)
    finally:
        await chunks.aclose()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/flows/{namespace}/{name}/steps/{step}/log", step_log)
