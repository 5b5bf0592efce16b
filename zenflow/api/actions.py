"""What each ``kubectl jobflow`` verb (and the web UI's matching action) writes, as pure
functions returning merge patches.

Every action is a plain JSON merge patch on the JobFlow (the same thing a user can do with
``kubectl patch --type merge`` or ``kubectl annotate``), so the plugin adds no protocol of its own:

- approve STEP   → ``metadata.annotations[workflow.zen.io/approvals]``: an entry
  ``{step, user, time, decision: approve}`` appended to the JSON list (``zenflow.api.approvals``),
  ``user`` being the requester as the API server knows them; guarded by the resourceVersion
  read, so two concurrent approvals never drop one another
- reject STEP --reason R → the same with ``decision: reject`` and the reason
- (``approve_patch``: the older comma-separated ``workflow.zen.io/approve`` annotation, which
  records no identity; Manual steps without an approval policy still honour it)
- cancel         → ``metadata.annotations[workflow.zen.io/cancel] = "true"``
- retry          → ``metadata.annotations[workflow.zen.io/retry] = <nonce>`` (a new value per
  request, so a second retry of the same flow is a change the controller sees)
- retry --step S → the same nonce plus ``workflow.zen.io/retry-step = S``
- suspend/resume → ``spec.suspend = true/false``

``run`` fills ``spec.params[].value`` from ``--param k=v`` before creating the flow;
``run --template NAME`` makes a flow from a whole template (``flow_from_template``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from zenflow.api.approvals import Decision, dump_entries, entries_of, new_entry
from zenflow.api.constants import (
    ANNOTATION_APPROVALS,
    ANNOTATION_APPROVE,
    ANNOTATION_CANCEL,
    ANNOTATION_RETRY,
    ANNOTATION_RETRY_STEP,
    API_VERSION,
    JOBFLOW_KIND,
)
from zenflow.api.templateref import TEMPLATE_KIND

CANCEL_VALUE = "true"

Patch = dict[str, Any]


class ActionError(ValueError):
    """A verb's input is unusable; the message says what to fix."""


def _annotate(values: Mapping[str, str | None]) -> Patch:
    return {"metadata": {"annotations": dict(values)}}


def approve_patch(flow: Mapping[str, Any], step: str) -> Patch:
    """Add ``step`` to the flow's approvals; the patch carries the flow's resourceVersion (a
    concurrent change makes it fail with 409 instead of losing an approval)."""
    meta = flow.get("metadata") or {}
    steps = [s.get("name") for s in _steps(flow)]
    if step not in steps:
        raise ActionError(f"JobFlow {meta.get('name')!r} has no step {step!r}")
    current = str((meta.get("annotations") or {}).get(ANNOTATION_APPROVE) or "")
    approved = [a.strip() for a in current.split(",") if a.strip()]
    if step not in approved:
        approved.append(step)
    patch = _annotate({ANNOTATION_APPROVE: ",".join(approved)})
    if meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
    return patch


def decision_patch(
    flow: Mapping[str, Any],
    step: str,
    *,
    user: str,
    now: datetime,
    decision: Decision = "approve",
    reason: str | None = None,
) -> Patch:
    """Append ``user``'s decision on the Manual step ``step`` to the approvals annotation; the
    patch carries the flow's resourceVersion (a concurrent change fails it with 409)."""
    meta = flow.get("metadata") or {}
    manual = [s.get("name") for s in _steps(flow) if s.get("type") == "Manual"]
    if step not in manual:
        what = "a Manual step" if step in [s.get("name") for s in _steps(flow)] else "a step"
        raise ActionError(f"JobFlow {meta.get('name')!r}: {step!r} is not {what} of it")
    if decision == "reject" and not (reason or "").strip():
        raise ActionError("a rejection needs a reason (--reason)")
    entries = entries_of(flow)
    entries.append(new_entry(step=step, user=user, now=now, decision=decision, reason=reason))
    patch = _annotate({ANNOTATION_APPROVALS: dump_entries(entries)})
    if meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
    return patch


def _steps(flow: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    spec = flow.get("spec") or {}
    return [s for s in (*(spec.get("steps") or []), *(spec.get("finally") or [])) if s]


def cancel_patch() -> Patch:
    return _annotate({ANNOTATION_CANCEL: CANCEL_VALUE})


def retry_nonce(now: datetime) -> str:
    """A fresh retry value: the request time, RFC 3339 with microseconds (unique per request)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def retry_patch(*, nonce: str, step: str | None) -> Patch:
    """Retry the failed/skipped steps (``step`` None) or one step and its dependents. A retry of
    the whole flow removes a leftover retry-step annotation (merge patch ``null``)."""
    return _annotate({ANNOTATION_RETRY: nonce, ANNOTATION_RETRY_STEP: step})


def suspend_patch(*, suspend: bool) -> Patch:
    return {"spec": {"suspend": suspend}}


def parse_params(items: Sequence[str]) -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}``; the value may contain ``=``; a repeated key wins last."""
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ActionError(f"--param {item!r}: expected NAME=VALUE")
        params[key] = value
    return params


def with_params(flow: Mapping[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the JobFlow document with ``spec.params[].value`` set from ``params``; every
    name must be a declared param (so a typo never goes unnoticed)."""
    if flow.get("kind", JOBFLOW_KIND) != JOBFLOW_KIND:
        raise ActionError(f"expected a {JOBFLOW_KIND}, got kind {flow.get('kind')!r}")
    doc = copy.deepcopy(dict(flow))
    doc.setdefault("apiVersion", API_VERSION)
    doc.setdefault("kind", JOBFLOW_KIND)
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise ActionError("the JobFlow has no spec")
    declared = [p for p in spec.get("params") or [] if isinstance(p, dict)]
    names = {str(p.get("name")) for p in declared}
    unknown = sorted(set(params) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise ActionError(f"unknown param(s) {', '.join(unknown)} (declared: {known})")
    for param in declared:
        if param.get("name") in params:
            param["value"] = params[str(param["name"])]
    return doc


def flow_from_template(
    template: Mapping[str, Any], params: Mapping[str, str], *, name: str | None = None
) -> dict[str, Any]:
    """A JobFlow made from a whole JobFlowTemplate or ClusterJobFlowTemplate (``spec.templateRef``
    naming it, ``spec.params`` its param values), named ``name`` or ``<template>-<random>``.
    Every param must be declared by the template, and each required one given or defaulted."""
    meta = template.get("metadata") or {}
    kind = str(template.get("kind") or TEMPLATE_KIND)
    declared = [p for p in (template.get("spec") or {}).get("params") or [] if isinstance(p, dict)]
    names = {str(p.get("name")) for p in declared}
    unknown = sorted(set(params) - names)
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise ActionError(
            f"{kind} {meta.get('name')!r} declares no param(s) {', '.join(unknown)} "
            f"(declared: {known})"
        )
    missing = sorted(
        str(p.get("name"))
        for p in declared
        if p.get("required") and p.get("default") is None and str(p.get("name")) not in params
    )
    if missing:
        raise ActionError(f"{kind} {meta.get('name')!r} requires param(s) {', '.join(missing)}")
    metadata: dict[str, Any] = (
        {"name": name} if name else {"generateName": f"{str(meta.get('name'))[:57]}-"}
    )
    spec: dict[str, Any] = {"templateRef": {"name": meta.get("name"), "kind": kind}}
    if params:
        spec["params"] = [{"name": k, "value": v} for k, v in params.items()]
    return {"apiVersion": API_VERSION, "kind": JOBFLOW_KIND, "metadata": metadata, "spec": spec}
