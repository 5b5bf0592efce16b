"""Read routes: the page shell, JSON snapshots and the live event streams.

Lists and flow pages are served from the informer cache (no API request per page view); the
streams push what changed (see ``sse``). A step's Jobs are read on demand with the user's
credentials, so what a page shows is never more than the user may read.

Streams and their events:
- ``/api/events/flows``: ``snapshot`` {flows, health}, then ``upsert`` (a flow summary),
  ``delete`` {namespace, name} and ``health``.
- ``/api/events/flows/{ns}/{name}``: ``flow`` (the full detail first; later only the steps that
  changed, plus the layout when the spec's generation changed), ``delete`` and ``health``.
- ``/api/events/cronjobflows``: ``crons`` (the whole list, small) and ``health``.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from zenflow import __version__
from zenflow.api.constants import LABEL_ATTEMPT, LABEL_JOBFLOW, LABEL_STEP
from zenflow.core.observed import LABEL_SHARD
from zenflow.errors import KubeError
from zenflow.kube.listwatch import collection_path
from zenflow.machinery.reconcile import make_key
from zenflow.ui import sse
from zenflow.ui.hub import Changes, Kind
from zenflow.ui.security import HEALTH_PATH
from zenflow.ui.state import STATE, UiState
from zenflow.ui.views import cron_view, flow_summary

CSRF_PLACEHOLDER = "__CSRF_TOKEN__"
Json = dict[str, Any]


def _index_html() -> str:
    return (importlib.resources.files("zenflow.ui") / "static" / "index.html").read_text("utf-8")


async def index(request: web.Request) -> web.Response:
    state = request.app[STATE]
    html = _index_html().replace(CSRF_PLACEHOLDER, state.guard.csrf_token)
    return web.Response(text=html, content_type="text/html")


async def config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {
            "namespace": state.options.namespace,
            "allNamespaces": state.options.namespace is None,
            "actions": not state.options.read_only,
            "context": state.options.context,
            "version": __version__,
            "health": state.watch.health().to_json(),
        }
    )


def _flow_list(state: UiState) -> list[Json]:
    return [flow_summary(o) for o in state.watch.flows.store.list()]


async def flows(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"flows": _flow_list(state), "health": state.watch.health().to_json()})


def _params(request: web.Request) -> tuple[str, str]:
    return request.match_info["namespace"], request.match_info["name"]


async def flow(request: web.Request) -> web.Response:
    state = request.app[STATE]
    obj = state.watch.flow(*_params(request))
    if obj is None:
        return _not_cached(*_params(request))
    return web.json_response(state.views.detail(obj))


def _not_cached(namespace: str, name: str) -> web.Response:
    return web.json_response(
        {"error": f"JobFlow {namespace}/{name} not found (or outside this UI's namespaces)"},
        status=404,
    )


async def flows_events(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]

    def snapshot() -> Iterable[sse.Event]:
        yield "snapshot", {"flows": _flow_list(state), "health": state.watch.health().to_json()}

    def render(changes: Changes) -> Iterable[sse.Event]:
        if changes.health:
            yield "health", state.watch.health().to_json()
        for key in sorted(changes.flows):
            obj = state.watch.flows.store.get(key)
            if obj is None:
                namespace, _, name = key.partition("/")
                yield "delete", {"namespace": namespace, "name": name}
            else:
                yield "upsert", flow_summary(obj)

    return await sse.serve_events(
        request, state.watch.hub, wants=_wants("flow"), snapshot=snapshot, render=render
    )


def _wants(kind: Kind, key: str | None = None) -> Any:
    def wants(k: Kind, changed: str) -> bool:
        return k == kind and (key is None or changed == key)

    return wants


async def flow_events(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    namespace, name = _params(request)
    key = make_key(namespace, name)
    sent: dict[str, Json] = {}
    layout_key: list[str] = [""]

    def full() -> Iterable[sse.Event]:
        obj = state.watch.flows.store.get(key)
        if obj is None:
            yield "delete", {"namespace": namespace, "name": name}
            return
        detail = state.views.detail(obj)
        sent.clear()
        sent.update({s["name"]: s for s in detail["steps"]})
        layout_key[0] = detail["layout"]["key"]
        yield "flow", {**detail, "full": True}
        yield "health", state.watch.health().to_json()

    def render(changes: Changes) -> Iterable[sse.Event]:
        if changes.health:
            yield "health", state.watch.health().to_json()
        if key not in changes.flows:
            return
        obj = state.watch.flows.store.get(key)
        if obj is None:
            sent.clear()
            yield "delete", {"namespace": namespace, "name": name}
            return
        detail = state.views.detail(obj)
        if detail["layout"]["key"] != layout_key[0] or not sent:
            yield from full()
            return
        changed = [s for s in detail["steps"] if sent.get(s["name"]) != s]
        sent.update({s["name"]: s for s in changed})
        yield "flow", {"summary": detail["summary"], "conditions": detail["conditions"],
                       "params": detail["params"], "steps": changed, "full": False}  # fmt: skip

    return await sse.serve_events(
        request, state.watch.hub, wants=_wants("flow", key), snapshot=full, render=render
    )


def _cron_list(state: UiState) -> list[Json]:
    now = datetime.now(UTC)
    out = []
    for cron in state.watch.crons.store.list():
        meta = cron.get("metadata") or {}
        runs = state.watch.runs_of(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        out.append(cron_view(cron, runs, now=now))
    return sorted(out, key=lambda c: (c["namespace"], c["name"]))


async def crons(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({"crons": _cron_list(state), "health": state.watch.health().to_json()})


async def crons_events(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]

    def snapshot() -> Iterable[sse.Event]:
        yield "crons", {"crons": _cron_list(state), "health": state.watch.health().to_json()}

    def render(changes: Changes) -> Iterable[sse.Event]:
        if changes.health:
            yield "health", state.watch.health().to_json()
        if changes.crons:
            yield from snapshot()

    return await sse.serve_events(
        request, state.watch.hub, wants=_wants("cron"), snapshot=snapshot, render=render
    )


def job_view(job: Json) -> Json:
    """One attempt of a step: its Job's name, attempt, times, counts and final condition."""
    meta, status = job.get("metadata") or {}, job.get("status") or {}
    labels = meta.get("labels") or {}
    final: Json = next(
        (
            c
            for c in status.get("conditions") or []
            if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        ),
        {},
    )
    return {
        "name": meta.get("name"),
        "attempt": labels.get(LABEL_ATTEMPT),
        "shard": labels.get(LABEL_SHARD),
        "created": meta.get("creationTimestamp"),
        "started": status.get("startTime"),
        "finished": status.get("completionTime") or final.get("lastTransitionTime"),
        "active": status.get("active") or 0,
        "succeeded": status.get("succeeded") or 0,
        "failed": status.get("failed") or 0,
        "condition": final.get("type"),
        "reason": final.get("reason"),
        "message": final.get("message"),
    }


async def step_jobs(request: web.Request) -> web.Response:
    """The step's Jobs (one per attempt and shard), newest first, read as the user."""
    state = request.app[STATE]
    namespace, name = _params(request)
    step = request.match_info["step"]
    path = collection_path(group="batch", version="v1", plural="jobs", namespace=namespace)
    selector = f"{LABEL_JOBFLOW}={name},{LABEL_STEP}={step}"
    try:
        doc = await state.rest.get(path, [("labelSelector", selector)])
    except KubeError as exc:
        return refusal(exc)
    jobs = [job_view(j) for j in doc.get("items") or []]
    jobs.sort(key=lambda j: (str(j["created"] or ""), str(j["name"])), reverse=True)
    return web.json_response({"jobs": jobs})


def refusal(exc: KubeError) -> web.Response:
    """The API server's answer, verbatim, with its status (502 when it was unreachable)."""
    status = exc.status if exc.status and 400 <= exc.status <= 599 else 502
    return web.json_response({"error": str(exc), "status": exc.status}, status=status)


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the server answers (no login needed; says nothing about the cluster)."""
    return web.Response(text="ok\n")


def add_routes(app: web.Application) -> None:
    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get("/", index)
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/flows", flows)
    app.router.add_get("/api/flows/{namespace}/{name}", flow)
    app.router.add_get("/api/flows/{namespace}/{name}/steps/{step}/jobs", step_jobs)
    app.router.add_get("/api/cronjobflows", crons)
    app.router.add_get("/api/events/flows", flows_events)
    app.router.add_get("/api/events/flows/{namespace}/{name}", flow_events)
    app.router.add_get("/api/events/cronjobflows", crons_events)
