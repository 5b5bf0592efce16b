"""The resolved spec a flow keeps in ``status.resolved``, and the view of the flow it runs from.

A flow that uses templates is resolved once; the result (the spec, the templates read with their
resourceVersion, the generation resolved) is written into its status with the first status
patch, and from then on every reconcile runs the stored spec (``view``), never the templates'
current text: editing or deleting a template does not change a flow that exists, nor its user
retries. The live ``spec.suspend`` still counts (it steers how the flow runs, not what).

It is resolved again only when the flow's spec was edited (a new generation) before anything
ran; once the flow has started its spec is frozen by the webhook's update rules, and the stored
spec stays.

Pure: functions of the raw flow object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from zenflow.api.templateref import ResolvedSpec
from zenflow.core.flowtemplates.resolve import uses_templates


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def stored(obj: Mapping[str, Any]) -> ResolvedSpec | None:
    """The record in ``status.resolved``, or None (absent or unreadable)."""
    raw = _mapping(obj.get("status")).get("resolved")
    if not isinstance(raw, Mapping):
        return None
    try:
        return ResolvedSpec.model_validate(raw)
    except pydantic.ValidationError:
        return None


def started(obj: Mapping[str, Any]) -> bool:
    status = _mapping(obj.get("status"))
    return bool(status.get("startTime")) or status.get("phase") in ("Running", "Succeeded")


def needs_resolution(obj: Mapping[str, Any]) -> bool:
    """The flow uses templates and has no stored spec for its current generation (unless it
    started: then the stored one stands)."""
    if not uses_templates(obj.get("spec")):
        return False
    record = stored(obj)
    if record is None:
        return True
    generation = int(_mapping(obj.get("metadata")).get("generation") or 0)
    return record.generation != generation and not started(obj)


def view(obj: Mapping[str, Any], record: ResolvedSpec | None = None) -> Mapping[str, Any]:
    """The flow as it runs: ``obj`` itself when it uses no template; else with the stored (or
    given) resolved spec as its spec (and the record in its status)."""
    if record is None:
        if not uses_templates(obj.get("spec")):
            return obj
        record = stored(obj)
        if record is None:
            return obj
    spec = record.spec()
    live = _mapping(obj.get("spec"))
    if "suspend" in live:
        spec["suspend"] = live["suspend"]
    else:
        spec.pop("suspend", None)
    status = {**_mapping(obj.get("status")), "resolved": record.dump()}
    return {**obj, "spec": spec, "status": status}
