"""The one validator of JobFlow and CronJobFlow objects, used by the webhook, the controller and
``zenflow validate``.

``validate_object`` never raises on bad input: every problem is returned at once, as a
``Problem`` naming the field path (``spec.steps[3].dependencies[0]: unknown step "trasnform"``).
Errors make the object invalid; warnings flag what is allowed but probably a mistake.

Checks are split by concern: structure (pydantic shape → paths) in ``structure``; step graph,
names and per-step fields in ``steps``; Job templates in ``template``; object names, params,
resource templates and schedules in ``values``; ``when``/``{{ }}`` references in ``refs``; the
result types in ``problems``. All of them are linear in the size of the spec (see
benchmarks/validate_bench.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zenflow.api import limits
from zenflow.api.constants import API_VERSION, CRONJOBFLOW_KIND, JOBFLOW_KIND
from zenflow.api.cronjobflow import CronJobFlow
from zenflow.api.jobflow import JobFlow, JobFlowSpec
from zenflow.core.schedule import MAX_CRONJOBFLOW_NAME, MAX_RUN_NAME
from zenflow.core.validation.artifacts import check_artifacts
from zenflow.core.validation.notifications import check_notifications
from zenflow.core.validation.problems import (
    Collector,
    Problem,
    ValidationReport,
    describe_exception,
    guarded,
)
from zenflow.core.validation.refs import check_references
from zenflow.core.validation.shell import check_shell_use
from zenflow.core.validation.sizes import check_budget, compact_json, spec_json
from zenflow.core.validation.steps import GraphStep, check_graph, check_steps
from zenflow.core.validation.structure import parse_model
from zenflow.core.validation.templaterefs import check_flow_template_ref
from zenflow.core.validation.texts import StepTexts
from zenflow.core.validation.values import check_metadata, check_schedule
from zenflow.core.validation.workspaces import check_workspaces

__all__ = [
    "Problem",
    "ValidationReport",
    "validate_cronjobflow",
    "validate_jobflow",
    "validate_object",
    "validate_spec",
]


def validate_object(obj: Mapping[str, Any]) -> ValidationReport:
    """Validate a JobFlow or CronJobFlow in wire form (a dict parsed from YAML/JSON).

    Total: whatever ``obj`` holds, this returns a report; an exception in a check becomes an
    error naming the part being checked (a bug of ours must not make a flow unjudgeable)."""
    out = Collector()
    if not isinstance(obj, Mapping):
        out.error("", f"expected an object, got {_type_name(obj)}")
        return out.report()
    try:
        _validate_object(obj, out)
    except Exception as exc:
        out.error("spec", f"could not be validated: {describe_exception(exc)}")
    return out.report()


def _validate_object(obj: Mapping[str, Any], out: Collector) -> None:
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if api_version != API_VERSION:
        out.error("apiVersion", f"must be {API_VERSION!r}, got {api_version!r}")
    if kind not in (JOBFLOW_KIND, CRONJOBFLOW_KIND):
        out.error("kind", f"must be {JOBFLOW_KIND!r} or {CRONJOBFLOW_KIND!r}, got {kind!r}")
        return
    text = spec_json(obj.get("spec"), path="spec", out=out)
    if text is None:
        return  # nested too deeply: nothing downstream may walk it
    if kind == JOBFLOW_KIND:
        flow = parse_model(JobFlow, obj, out=out)
        if flow is not None:
            _check_jobflow(flow, out=out, raw_spec=obj.get("spec"), text=text)
        else:
            _check_raw_graph(obj.get("spec"), path="spec", out=out)
    else:
        cron = parse_model(CronJobFlow, obj, out=out)
        if cron is not None:
            _check_cronjobflow(cron, out=out, raw_spec=obj["spec"]["jobFlowTemplate"]["spec"])
        else:
            spec = obj.get("spec")
            template = spec.get("jobFlowTemplate") if isinstance(spec, Mapping) else None
            inner = template.get("spec") if isinstance(template, Mapping) else None
            _check_raw_graph(inner, path="spec.jobFlowTemplate.spec", out=out)


def validate_jobflow(flow: JobFlow) -> ValidationReport:
    """Semantic checks of an already parsed JobFlow."""
    out = Collector()
    _check_jobflow(flow, out=out)
    return out.report()


def validate_cronjobflow(cron: CronJobFlow) -> ValidationReport:
    """Semantic checks of an already parsed CronJobFlow."""
    out = Collector()
    _check_cronjobflow(cron, out=out)
    return out.report()


def validate_spec(spec: JobFlowSpec, *, path: str = "spec") -> ValidationReport:
    """Semantic checks of a JobFlow spec alone (paths start with ``path``)."""
    out = Collector()
    check_spec(spec, path=path, out=out)
    return out.report()


def check_spec(
    spec: JobFlowSpec,
    *,
    path: str,
    out: Collector,
    raw: Mapping[str, Any] | None = None,
    text: bytes | None = None,
) -> None:
    """``raw``: the spec as received, when available (serializing it is cheaper, and it is
    what the API server stores); ``text``: its compact JSON, if already made."""
    if text is None and raw is not None:
        text = compact_json(raw)
    elif text is None:
        # As stored: the API server applies no defaults (the CRD has none).
        text = spec.model_dump_json(
            by_alias=True, exclude_none=True, exclude_defaults=True
        ).encode()
    if len(text) > limits.MAX_SPEC_BYTES:
        out.error(
            path,
            f"spec is {len(text)} bytes; at most {limits.MAX_SPEC_BYTES} are allowed so the "
            "flow's status fits in the object",
        )
    if spec.template_ref is not None:
        check_flow_template_ref(
            spec, path=path, out=out, fields=set(raw) if isinstance(raw, Mapping) else None
        )
        check_notifications(spec.notifications, path=path, out=out)
        return
    texts = StepTexts(raw)
    decoded = text.decode()
    graph = None
    with guarded(out, path, "steps"):
        graph = check_steps(spec, path=path, out=out)
    if graph is not None:
        with guarded(out, path, "workspaces"):
            check_workspaces(spec, path=path, out=out)
            check_artifacts(spec, regular=graph.regular, final=graph.final, path=path, out=out)
    if graph is not None:
        with guarded(out, path, "references"):
            check_references(
                spec, graph=graph, path=path, out=out, spec_json=decoded, raw=raw, texts=texts
            )
    with guarded(out, path, "sizes"):
        check_budget(spec, path=path, text=decoded, texts=texts, out=out)
    with guarded(out, path, "shell scripts"):
        check_shell_use(spec, path=path, text=decoded, out=out)
    check_notifications(spec.notifications, path=path, out=out)


def _check_jobflow(
    flow: JobFlow,
    *,
    out: Collector,
    raw_spec: Mapping[str, Any] | None = None,
    text: bytes | None = None,
) -> None:
    check_metadata(flow.metadata, max_name=253, out=out)
    check_spec(flow.spec, path="spec", out=out, raw=raw_spec, text=text)


def _check_cronjobflow(
    cron: CronJobFlow, *, out: Collector, raw_spec: Mapping[str, Any] | None = None
) -> None:
    # Like CronJob: the created flows are named <name>-<minutes since epoch> (11 more chars).
    check_metadata(
        cron.metadata,
        max_name=MAX_CRONJOBFLOW_NAME,
        why=f"its runs are named <name>-<unix minutes>, at most {MAX_RUN_NAME} characters",
        out=out,
    )
    check_schedule(cron.spec.schedule, cron.spec.time_zone, path="spec", out=out)
    check_spec(
        cron.spec.job_flow_template.spec, path="spec.jobFlowTemplate.spec", out=out, raw=raw_spec
    )


def _check_raw_graph(spec: object, *, path: str, out: Collector) -> None:
    """When the spec does not parse, still check step names, dependencies and cycles of the
    steps whose name and dependencies are well-formed, so one run reports both kinds."""
    if not isinstance(spec, Mapping):
        return
    lists = []
    for key in ("steps", "finally"):
        items = spec.get(key)
        if items is not None and not isinstance(items, list):
            return
        steps = []
        for item in items or []:
            if not isinstance(item, Mapping):
                return
            name, deps = item.get("name"), item.get("dependencies", [])
            if not isinstance(name, str) or not isinstance(deps, list):
                return
            if not all(isinstance(d, str) for d in deps):
                return
            steps.append(GraphStep(name, deps))
        lists.append(steps)
    if not lists[0]:
        return  # "steps missing/empty" is already a structural error
    graph_out = Collector()
    check_graph(lists[0], lists[1], path=path, out=graph_out)
    seen = {str(p) for p in out.errors}
    out.errors.extend(p for p in graph_out.errors if str(p) not in seen)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__
