"""Validation with templates at hand: a JobFlow or CronJobFlow whose spec uses ``templateRef`` is
resolved (``zenflow.core.flowtemplates.resolve``) and the resolved object goes through the one
validator, so a flow is judged by what it will run. Used by ``zenflow validate`` (templates from
the files given), the webhook (templates from the API server) and the controller (from its
caches), each passing the templates it has.

- ``validate_with_templates(obj, templates)`` (``validate_resolved``: with the resolution):
  ``validate_object`` first; then, when the spec
  refers to templates, a missing template or a reference that does not fit it (an unknown step
  or param, a required param without value) is an error naming the referring field, and (when
  the object is otherwise valid) the resolved object's problems are reported at their paths,
  those inside a step taken from a template saying which one.
- ``validate_template(obj)``: a JobFlowTemplate or ClusterJobFlowTemplate, checked as the flow
  spec it is (required params need no value in a template; a template that declares no
  workspaces holds step templates mounting the workspaces of the flows using them: a warning).
- ``validate_document(obj, templates)``: either, by kind.

Never raises: like ``validate_object`` this is total.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from zenflow.api.constants import API_VERSION, CRONJOBFLOW_KIND, JOBFLOW_KIND
from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND
from zenflow.core.flowtemplates.resolve import (
    Resolution,
    TemplateKey,
    resolve_spec,
    uses_templates,
)
from zenflow.core.validation.problems import Collector, Problem, ValidationReport, guarded
from zenflow.core.validation.validator import validate_object

Templates = Mapping[TemplateKey, Mapping[str, Any]]
TEMPLATE_KINDS = frozenset({TEMPLATE_KIND, CLUSTER_TEMPLATE_KIND})


def spec_location(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(field path, raw spec) of the flow spec an object carries, or None."""
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return None
    if obj.get("kind") == CRONJOBFLOW_KIND:
        template = spec.get("jobFlowTemplate")
        inner = template.get("spec") if isinstance(template, Mapping) else None
        return ("spec.jobFlowTemplate.spec", inner) if isinstance(inner, Mapping) else None
    return "spec", spec


def namespace_of(obj: Mapping[str, Any], default: str = "default") -> str:
    meta = obj.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else default


def resolve_object(
    obj: Mapping[str, Any], templates: Templates, *, namespace: str | None = None
) -> Resolution | None:
    """The resolution of the object's flow spec; None when it uses no template."""
    located = spec_location(obj)
    if located is None or not uses_templates(located[1]):
        return None
    path, spec = located
    return resolve_spec(
        spec, namespace=namespace or namespace_of(obj), templates=templates, path=path
    )


def with_spec(obj: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy of ``obj`` whose flow spec is ``spec``."""
    out = dict(obj)
    if obj.get("kind") == CRONJOBFLOW_KIND:
        outer = dict(obj["spec"])
        outer["jobFlowTemplate"] = {**outer["jobFlowTemplate"], "spec": spec}
        out["spec"] = outer
    else:
        out["spec"] = spec
    return out


def validate_with_templates(
    obj: Mapping[str, Any], templates: Templates, *, namespace: str | None = None
) -> ValidationReport:
    return validate_resolved(obj, templates, namespace=namespace)[0]


def validate_resolved(
    obj: Mapping[str, Any], templates: Templates, *, namespace: str | None = None
) -> tuple[ValidationReport, Resolution | None]:
    """``validate_with_templates``'s report, and the resolution it judged (None when the object
    uses no template, or resolving it failed: the report says so), for a caller that needs the
    resolved flow too without resolving it twice."""
    report = validate_object(obj)
    if not isinstance(obj, Mapping):
        return report, None
    out = Collector(list(report.errors), list(report.warnings))
    resolution = None
    with guarded(out, "spec", "template references"):
        resolution = resolve_object(obj, templates, namespace=namespace)
        if resolution is not None:
            _check_resolved(obj, resolution, out, whole=report.ok)
    return out.report(), resolution


def _check_resolved(
    obj: Mapping[str, Any], resolution: Resolution, out: Collector, *, whole: bool
) -> None:
    """The references' problems; with ``whole`` (the object itself is valid) also the
    resolved object's (else those would repeat the object's own)."""
    for path, message in [*resolution.missing, *resolution.problems]:
        out.error(path, message)
    if resolution.spec is None or not whole:
        return
    resolved = validate_object(with_spec(obj, resolution.spec))
    seen = {str(p) for p in out.warnings}
    for problem in resolved.errors:
        out.errors.append(_from_template(problem, resolution.origins))
    for problem in resolved.warnings:
        annotated = _from_template(problem, resolution.origins)
        if str(annotated) not in seen and str(problem) not in seen:
            out.warnings.append(annotated)


def _from_template(problem: Problem, origins: Mapping[str, str]) -> Problem:
    """``problem`` saying which template it comes from when its path is in a template's part."""
    for prefix, origin in origins.items():
        rest = problem.path[len(prefix) :]
        if problem.path.startswith(prefix) and (not rest or rest[0] in ".["):
            return Problem(problem.path, f"{problem.message} (from {origin})")
    return problem


def validate_template(obj: Mapping[str, Any]) -> ValidationReport:
    """A JobFlowTemplate or ClusterJobFlowTemplate: its spec checked as a flow's."""
    out = Collector()
    if obj.get("apiVersion") != API_VERSION:
        out.error("apiVersion", f"must be {API_VERSION!r}, got {obj.get('apiVersion')!r}")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        out.error("spec", "required: the template's params and steps")
        return out.report()
    meta = obj.get("metadata")
    cluster = obj.get("kind") == CLUSTER_TEMPLATE_KIND
    if cluster and isinstance(meta, Mapping) and meta.get("namespace"):
        out.error("metadata.namespace", "a ClusterJobFlowTemplate is cluster-scoped")
    if uses_templates(spec):
        out.error("spec", "a template's steps cannot use templateRef (templates do not nest)")
    flow_spec = {k: copy.deepcopy(v) for k, v in spec.items() if k != "description"}
    flow_spec["params"] = [_placeholder(p) for p in spec.get("params") or []]
    report = validate_object(
        {
            "apiVersion": API_VERSION,
            "kind": JOBFLOW_KIND,
            "metadata": {k: v for k, v in (meta or {}).items() if k == "name"},
            "spec": flow_spec,
        }
    )
    declares_workspaces = bool(spec.get("workspaces"))
    for problem in report.errors:
        if not declares_workspaces and problem.message.startswith("unknown workspace "):
            # Step templates mount the workspaces of the flows using them.
            name = problem.message.split('"')[1] if '"' in problem.message else ""
            out.warn(problem.path, f'mounts workspace "{name}": a flow using this step declares it')
        else:
            out.errors.append(problem)
    out.warnings.extend(w for w in report.warnings if "is never used" not in w.message)
    return out.report()


def _placeholder(param: Any) -> Any:
    """A declared param as the validator sees it in a template: a required one has a value."""
    if not isinstance(param, Mapping) or param.get("default") is not None:
        return param
    enum = param.get("enum")
    value = enum[0] if isinstance(enum, list) and enum else "value"
    return {**param, "default": value}


def validate_document(obj: Any, templates: Templates) -> ValidationReport:
    """Any zenflow object: a template by itself, a flow with ``templates`` at hand."""
    if isinstance(obj, Mapping) and obj.get("kind") in TEMPLATE_KINDS:
        return validate_template(obj)
    return validate_with_templates(obj, templates)
