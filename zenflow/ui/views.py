"""What the browser is sent about JobFlows and CronJobFlows: plain JSON views of the raw objects.

Pure: functions of the raw API dicts (so a view never fails on fields a newer server adds or a
malformed object lacks) and ``now``. Every view is built from an explicit list of fields: step
templates, env, commands, params values of other objects, annotations and managedFields are
never copied, so nothing a page receives is more than a summary of what ``kubectl get`` shows.
Timestamps stay RFC 3339 strings as the API server wrote them; the browser formats them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from zenflow.api.constants import LABEL_CRONJOBFLOW
from zenflow.api.formats import parse_time
from zenflow.core.schedule import ScheduleError, next_schedule_time
from zenflow.ui.layout import layout

Json = dict[str, Any]
MAX_CRON_RUNS = 10
LAYOUT_CACHE_SIZE = 64
_STEP_STATUS_FIELDS = (
    "phase", "reason", "message", "startTime", "completionTime", "jobRef", "attempt",
    "retryCount", "nextRetryTime", "approvedBy",
)  # fmt: skip
_SHARD_FIELDS = ("index", "phase", "jobRef", "attempt", "retryCount", "message")


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flow_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = _dict(obj.get("metadata"))
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def flow_summary(obj: Mapping[str, Any]) -> Json:
    """One row of the flow list."""
    meta, spec, status = (_dict(obj.get(k)) for k in ("metadata", "spec", "status"))
    declared = len(_list(spec.get("steps"))) + len(_list(spec.get("finally")))
    steps = [_dict(s) for s in _list(status.get("steps"))]
    counts = {k: _int(status.get(k)) for k in ("completed", "succeeded", "failed", "running")}
    return {
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "uid": _str(meta.get("uid")),
        "created": _str(meta.get("creationTimestamp")),
        "deleting": bool(meta.get("deletionTimestamp")),
        "cron": _str(_dict(meta.get("labels")).get(LABEL_CRONJOBFLOW)),
        "phase": _str(status.get("phase")) or "Pending",
        "reason": _str(status.get("reason")),
        "message": _str(status.get("message")),
        "progress": _str(status.get("progress")) or f"0/{declared}",
        "total": _int(status.get("total")) or declared,
        **counts,
        "waiting": sum(1 for s in steps if s.get("phase") == "Waiting"),
        "started": _str(status.get("startTime")),
        "finished": _str(status.get("completionTime")),
        "suspend": spec.get("suspend") is True,
    }


def _image(step: Mapping[str, Any]) -> str | None:
    run = _dict(step.get("run"))
    if run:
        return _str(run.get("image"))
    pod = _dict(_dict(_dict(_dict(step.get("template")).get("spec")).get("template")).get("spec"))
    containers = [_dict(c) for c in _list(pod.get("containers"))]
    return _str(containers[0].get("image")) if containers else None


def step_views(obj: Mapping[str, Any]) -> list[Json]:
    """Every step (spec order: steps, then finally; then steps only the status knows) with what
    the spec says about it and its observed state."""
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    observed = {str(s.get("name")): _dict(s) for s in _list(status.get("steps")) if _dict(s)}
    out: list[Json] = []
    seen: set[str] = set()
    declared = [(_dict(s), False) for s in _list(spec.get("steps"))]
    declared += [(_dict(s), True) for s in _list(spec.get("finally"))]
    for step, final in declared:
        name = str(step.get("name") or "")
        if not name or name in seen:
            continue
        seen.add(name)
        out.append(_step_view(name, step, observed.get(name, {}), final=final))
    for name, st in observed.items():
        if name not in seen:
            out.append(_step_view(name, {}, st, final=False))
    return out


def _step_view(name: str, step: Mapping[str, Any], st: Mapping[str, Any], *, final: bool) -> Json:
    matrix = _dict(step.get("matrix"))
    view: Json = {
        "name": name,
        "type": _str(step.get("type")) or "Job",
        "finally": final,
        "dependencies": [str(d) for d in _list(step.get("dependencies"))],
        "when": _str(step.get("when")),
        "gate": _str(step.get("message")),
        "image": _image(step),
        "retryLimit": _int(_dict(step.get("retryPolicy")).get("limit")) or 0,
        "timeoutSeconds": _int(step.get("timeoutSeconds")),
        "continueOnFailure": step.get("continueOnFailure") is True,
        "matrix": sorted(str(k) for k in matrix if k not in ("maxParallel", "failFast")),
    }
    for field in _STEP_STATUS_FIELDS:
        value = st.get(field)
        view[field] = value if isinstance(value, str | int) else None
    view["phase"] = view["phase"] or "Pending"
    outputs = _dict(st.get("outputs"))
    view["outputs"] = {str(k): str(v) for k, v in outputs.items()} if outputs else None
    shards = [_dict(s) for s in _list(st.get("shards"))]
    view["shards"] = [{f: s.get(f) for f in _SHARD_FIELDS} for s in shards] if shards else None
    return view


class FlowViews:
    """Builds flow pages; remembers the layout per (uid, generation), which is all it depends
    on, so a status change never lays the DAG out again."""

    def __init__(self, *, cache_size: int = LAYOUT_CACHE_SIZE) -> None:
        self._layouts: OrderedDict[tuple[str, int], Json] = OrderedDict()
        self._size = cache_size

    def layout_of(self, obj: Mapping[str, Any]) -> Json:
        meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
        key = (str(meta.get("uid") or meta.get("name")), _int(meta.get("generation")) or 0)
        found = self._layouts.get(key)
        if found is not None:
            self._layouts.move_to_end(key)
            return found
        main = [_dict(s) for s in _list(spec.get("steps"))]
        finals = [_dict(s) for s in _list(spec.get("finally"))]
        deps = {
            str(s.get("name")): [str(d) for d in _list(s.get("dependencies"))]
            for s in (*main, *finals)
        }
        drawn = layout(
            [str(s.get("name")) for s in main if s.get("name")],
            deps,
            [str(s.get("name")) for s in finals if s.get("name")],
        ).to_json()
        drawn["key"] = f"{key[0]}/{key[1]}"
        self._layouts[key] = drawn
        if len(self._layouts) > self._size:
            self._layouts.popitem(last=False)
        return drawn

    def detail(self, obj: Mapping[str, Any]) -> Json:
        """Everything the flow page shows: summary, conditions, params, steps and the layout."""
        spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
        params = [
            {
                "name": str(p.get("name") or ""),
                "value": p.get("value", p.get("default")),
                "description": _str(p.get("description")),
            }
            for p in (_dict(x) for x in _list(spec.get("params")))
        ]
        conditions = [
            {k: c.get(k) for k in ("type", "status", "reason", "message", "lastTransitionTime")}
            for c in (_dict(x) for x in _list(status.get("conditions")))
        ]
        return {
            "summary": flow_summary(obj),
            "conditions": conditions,
            "params": params,
            "steps": step_views(obj),
            "layout": self.layout_of(obj),
        }


def cron_view(cron: Mapping[str, Any], runs: Iterable[Mapping[str, Any]], *, now: datetime) -> Json:
    """One CronJobFlow with its newest runs (JobFlows labelled with its name) and next time."""
    meta, spec, status = (_dict(cron.get(k)) for k in ("metadata", "spec", "status"))
    schedule = str(spec.get("schedule") or "")
    next_time: str | None = None
    problem: str | None = None
    if spec.get("suspend") is not True:
        try:
            zone = _str(spec.get("timeZone"))
            when = next_schedule_time(schedule=schedule, time_zone=zone, after=now)
            next_time = when.isoformat()
        except (ScheduleError, ValueError) as exc:
            problem = str(exc)
    ordered = sorted(
        (flow_summary(r) for r in runs),
        key=lambda r: (parse_time(r["created"]) or now, r["name"]),
        reverse=True,
    )
    conditions = [_dict(c) for c in _list(status.get("conditions"))]
    return {
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "schedule": schedule,
        "timeZone": _str(spec.get("timeZone")) or "UTC",
        "suspend": spec.get("suspend") is True,
        "concurrencyPolicy": _str(spec.get("concurrencyPolicy")) or "Allow",
        "lastScheduleTime": _str(status.get("lastScheduleTime")),
        "lastSuccessfulTime": _str(status.get("lastSuccessfulTime")),
        "active": [str(_dict(a).get("name")) for a in _list(status.get("active"))],
        "nextSchedule": next_time,
        "problem": problem
        or next((_str(c.get("message")) for c in conditions if c.get("status") == "False"), None),
        "runs": ordered[:MAX_CRON_RUNS],
        "runCount": len(ordered),
    }
