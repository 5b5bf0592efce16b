"""Action routes: the ``kubectl jobflow`` verbs from the browser, with the same effects.

Each action is the very merge patch (or create) the plugin sends (``zenflow.api.actions``), made
with the user's own credentials, so RBAC and the admission webhook judge the user exactly as
with kubectl. Approve and reject append the user's decision to the approvals annotation
(``decision_patch``) in the name the API server gives them (a SelfSubjectReview, ``whoami``),
which is the only name the webhook accepts; the flow records it in ``status.steps[].approvedBy``.
A refusal is returned with the API server's status and message verbatim. Requests carry JSON
only and pass the CSRF check of ``security``; a read-only server (``--read-only``) refuses every
action before any API call.

- ``POST /api/flows/{ns}/{name}/{verb}`` with verb approve {step} | reject {step, reason} |
  retry {step?} | cancel | suspend | resume
- ``POST /api/run/params`` {yaml}: the JobFlow's declared params (parsing only, no API call)
- ``POST /api/run`` {yaml, params, namespace?, name?}: create the flow
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from aiohttp import web

from zenflow.api.actions import (
    ActionError,
    Patch,
    cancel_patch,
    decision_patch,
    retry_nonce,
    retry_patch,
    suspend_patch,
    with_params,
)
from zenflow.api.approvals import Decision
from zenflow.api.constants import GROUP, JOBFLOW_KIND, JOBFLOW_PLURAL, VERSION
from zenflow.errors import ConflictError, KubeError
from zenflow.kube.identity import whoami
from zenflow.kube.listwatch import collection_path
from zenflow.logging import get_logger
from zenflow.ui.routes import refusal
from zenflow.ui.state import STATE, UiState

log = get_logger(__name__)

DECIDE_ATTEMPTS = 5
"""Tries of a decision patch (each on a fresh read) when a concurrent change gets a 409."""
Json = dict[str, Any]


def _flows_path(namespace: str) -> str:
    return collection_path(group=GROUP, version=VERSION, plural=JOBFLOW_PLURAL, namespace=namespace)


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


async def _body(request: web.Request) -> Json:
    if request.content_type != "application/json":
        raise ActionError("actions take a JSON body (Content-Type: application/json)")
    try:
        doc = await request.json()
    except ValueError as exc:
        raise ActionError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ActionError("the request body must be a JSON object")
    return doc


def _optional_step(doc: Json) -> str | None:
    step = doc.get("step")
    if step is None or step == "":
        return None
    if not isinstance(step, str):
        raise ActionError("step must be a string")
    return step


async def _decide(state: UiState, path: str, doc: Json, decision: Decision) -> str:
    step = _optional_step(doc)
    if step is None:
        raise ActionError(f"{decision} needs the step to decide on")
    reason = doc.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ActionError("reason must be a string")
    if decision == "reject" and not (reason or "").strip():
        raise ActionError("a rejection needs a reason")
    user = await whoami(state.rest)
    for attempt in range(DECIDE_ATTEMPTS):
        current = await state.rest.get(path)
        patch = decision_patch(
            current,
            step,
            user=user,
            now=datetime.now(UTC),
            decision=decision,
            reason=reason if decision == "reject" else None,
        )
        try:
            await state.rest.merge_patch(path, patch)
        except ConflictError:
            if attempt == DECIDE_ATTEMPTS - 1:
                raise
            continue
        done = "approved" if decision == "approve" else "rejected"
        return f"step {step} {done} by {user}"
    raise AssertionError("unreachable")


async def _patch(state: UiState, path: str, body: Patch, done: str) -> str:
    await state.rest.merge_patch(path, body)
    return done


async def _retry(state: UiState, path: str, doc: Json) -> str:
    step = _optional_step(doc)
    nonce = retry_nonce(datetime.now(UTC))
    await state.rest.merge_patch(path, retry_patch(nonce=nonce, step=step))
    return f"retry of step {step} requested" if step else "retry requested"


Verb = Callable[[UiState, str, Json], Awaitable[str]]
VERBS: dict[str, Verb] = {
    "approve": lambda s, p, d: _decide(s, p, d, "approve"),
    "reject": lambda s, p, d: _decide(s, p, d, "reject"),
    "retry": _retry,
    "cancel": lambda s, p, _d: _patch(s, p, cancel_patch(), "cancel requested"),
    "suspend": lambda s, p, _d: _patch(s, p, suspend_patch(suspend=True), "suspended"),
    "resume": lambda s, p, _d: _patch(s, p, suspend_patch(suspend=False), "resumed"),
}


def _read_only(state: UiState) -> web.Response | None:
    if state.options.read_only:
        return _bad("actions are disabled: this UI server runs read-only (--read-only)", 403)
    return None


async def act(request: web.Request) -> web.Response:
    state = request.app[STATE]
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    verb = request.match_info["verb"]
    if verb not in VERBS:
        return _bad(f"unknown action {verb!r}", 404)
    if (refused := _read_only(state)) is not None:
        return refused
    try:
        doc = await _body(request)
        done = await VERBS[verb](state, f"{_flows_path(namespace)}/{name}", doc)
    except ActionError as exc:
        return _bad(str(exc))
    except KubeError as exc:
        log.info("ui_action_refused", verb=verb, namespace=namespace, flow=name, error=str(exc))
        return refusal(exc)
    log.info("ui_action_done", verb=verb, namespace=namespace, flow=name)
    return web.json_response({"ok": True, "message": f"jobflow {namespace}/{name}: {done}"})


def parse_flow_yaml(text: str) -> Json:
    """The one JobFlow document of ``text``; ActionError says what is wrong."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise ActionError(f"the YAML does not parse: {exc}") from exc
    flows = [d for d in docs if isinstance(d, dict) and d.get("kind", JOBFLOW_KIND) == JOBFLOW_KIND]
    if len(flows) != 1:
        raise ActionError(f"expected exactly one JobFlow document, found {len(flows)}")
    return dict(flows[0])


async def run_params(request: web.Request) -> web.Response:
    """The params a YAML JobFlow declares, for the run form."""
    try:
        flow = parse_flow_yaml(str((await _body(request)).get("yaml") or ""))
    except ActionError as exc:
        return _bad(str(exc))
    spec = flow.get("spec") if isinstance(flow.get("spec"), dict) else {}
    params = [
        {
            "name": str(p.get("name") or ""),
            "default": p.get("value", p.get("default")),
            "description": p.get("description"),
            "required": p.get("required") is True,
            "enum": p.get("enum"),
        }
        for p in (spec or {}).get("params") or []
        if isinstance(p, dict)
    ]
    meta = flow.get("metadata") if isinstance(flow.get("metadata"), dict) else {}
    return web.json_response(
        {
            "name": (meta or {}).get("name"),
            "generateName": (meta or {}).get("generateName"),
            "namespace": (meta or {}).get("namespace"),
            "params": params,
        }
    )


async def run(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if (refused := _read_only(state)) is not None:
        return refused
    try:
        doc = await _body(request)
        flow = parse_flow_yaml(str(doc.get("yaml") or ""))
        raw = doc.get("params") or {}
        if not isinstance(raw, dict):
            raise ActionError("params must be an object of name → value")
        params = {str(k): str(v) for k, v in raw.items() if v is not None and str(v) != ""}
        body = with_params(flow, params)
        meta = body.setdefault("metadata", {})
        if doc.get("name"):
            meta["name"] = str(doc["name"])
        namespace = _run_namespace(state, doc, meta)
        meta["namespace"] = namespace
        created = await state.rest.create(_flows_path(namespace), body)
    except ActionError as exc:
        return _bad(str(exc))
    except KubeError as exc:
        log.info("ui_run_refused", error=str(exc))
        return refusal(exc)
    name = str((created.get("metadata") or {}).get("name") or "")
    log.info("ui_run_created", namespace=namespace, flow=name)
    return web.json_response(
        {
            "ok": True,
            "namespace": namespace,
            "name": name,
            "message": f"jobflow {namespace}/{name} created",
        }
    )


def _run_namespace(state: UiState, doc: Json, meta: Json) -> str:
    wanted = str(
        doc.get("namespace") or meta.get("namespace") or state.options.namespace or "default"
    )
    scope = state.options.namespace
    if scope is not None and wanted != scope:
        raise ActionError(
            f"this UI shows namespace {scope} only; run the flow there or start it with -A"
        )
    return wanted


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/run/params", run_params)
    app.router.add_post("/api/run", run)
    app.router.add_post("/api/flows/{namespace}/{name}/{verb}", act)
