"""Checks of ``templateRef``s that need no template: what a referring step or flow may set beside
the reference, and the reference's own fields. Whether the template exists and the reference fits
it (its steps, declared params, required params, enums) is checked by resolving it
(``zenflow.core.validation.templated``, with the templates at hand)."""

from __future__ import annotations

from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.core.flowtemplates.resolve import FLOW_SPEC_FIELDS, FROM_TEMPLATE
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.values import DNS1123_SUBDOMAIN, IDENTIFIER


def check_step_template_ref(step: Step, *, path: str, out: Collector) -> None:
    ref = step.template_ref
    if ref is None:
        out.error(f"{path}.params", "params give a template's param values: set templateRef too")
        return
    if not DNS1123_SUBDOMAIN.match(ref.name):
        out.error(f"{path}.templateRef.name", f"must be a template's name, got {ref.name!r}")
    if step.type == "Manual":
        out.error(f"{path}.templateRef", "a Manual step runs nothing: it takes no template")
    given = {
        "template": step.template is not None,
        "run": step.run is not None,
        "outputs": bool(step.outputs),
        "artifacts": step.artifacts is not None,
        "message": step.message is not None,
    }
    for name in sorted(FROM_TEMPLATE):
        if given.get(name):
            out.error(f"{path}.{name}", "comes from the template (templateRef): remove it")
    seen: set[str] = set()
    for j, param in enumerate(step.params):
        if param.name in seen:
            out.error(f"{path}.params[{j}].name", f"duplicate param {param.name!r}")
        seen.add(param.name)


def check_flow_template_ref(
    spec: JobFlowSpec, *, path: str, out: Collector, fields: set[str] | None = None
) -> None:
    """A flow made from a whole template sets only the template reference, param values,
    suspend, notifications and executionPolicy (``fields``: the wire names set, when known)."""
    ref = spec.template_ref
    assert ref is not None
    if not DNS1123_SUBDOMAIN.match(ref.name):
        out.error(f"{path}.templateRef.name", f"must be a template's name, got {ref.name!r}")
    present = fields if fields is not None else _fields_set(spec)
    for name in sorted(present - FLOW_SPEC_FIELDS):
        out.error(f"{path}.{name}", "comes from the template (spec.templateRef): remove it")
    seen: set[str] = set()
    for j, param in enumerate(spec.params):
        if not IDENTIFIER.match(param.name):
            out.error(f"{path}.params[{j}].name", f"invalid param name {param.name!r}")
        if param.name in seen:
            out.error(f"{path}.params[{j}].name", f"duplicate param {param.name!r}")
        seen.add(param.name)


def _fields_set(spec: JobFlowSpec) -> set[str]:
    return set(spec.model_dump(by_alias=True, exclude_unset=True, exclude_none=True))
