"""References from a JobFlow to reusable templates (``JobFlowTemplate`` in the flow's namespace,
``ClusterJobFlowTemplate`` cluster-wide; their kinds are in ``zenflow.api.flowtemplate``), and
the record of what they resolved to.

- A step with ``templateRef: {name, kind, step}`` takes that template step (its Job or ``run``,
  inputs, outputs, artifacts, workspaces, retry policy, timeout) and fills the template's params
  from the step's ``params`` (else their defaults).
- A flow with ``spec.templateRef: {name, kind}`` is the whole template; ``spec.params`` give the
  values of the template's params.

References are resolved once, when the controller first sees the flow; the resolved spec is
stored in ``status.resolved`` and the flow runs from it from then on, so editing or deleting a
template never changes a flow that exists (``zenflow.core.flowtemplates``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field

from zenflow.api.common import ApiModel
from zenflow.api.constants import GROUP, VERSION
from zenflow.api.limits import MAX_SPEC_BYTES

TEMPLATE_KIND: Final = "JobFlowTemplate"
TEMPLATE_PLURAL: Final = "jobflowtemplates"
CLUSTER_TEMPLATE_KIND: Final = "ClusterJobFlowTemplate"
CLUSTER_TEMPLATE_PLURAL: Final = "clusterjobflowtemplates"
TemplateKind = Literal["JobFlowTemplate", "ClusterJobFlowTemplate"]
MAX_TEMPLATE_PARAMS: Final = 100


def _scalar_to_str(value: Any) -> Any:
    """YAML numbers and booleans are accepted as param values and kept as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class StepTemplateRef(ApiModel):
    """A step of a JobFlowTemplate or ClusterJobFlowTemplate to run as this step."""

    name: str = Field(description="The template's name.", max_length=253)
    kind: TemplateKind = Field(
        default="JobFlowTemplate",
        description="JobFlowTemplate (in the flow's namespace) or ClusterJobFlowTemplate.",
    )
    step: str | None = Field(
        default=None,
        max_length=63,
        description="The template's step to use; may be omitted when it has exactly one.",
    )


class FlowTemplateRef(ApiModel):
    """A whole JobFlowTemplate or ClusterJobFlowTemplate to run as this flow."""

    name: str = Field(description="The template's name.", max_length=253)
    kind: TemplateKind = Field(
        default="JobFlowTemplate",
        description="JobFlowTemplate (in the flow's namespace) or ClusterJobFlowTemplate.",
    )


class ParamValue(ApiModel):
    """A value for a template's param."""

    name: str = Field(description="The template param's name.", max_length=63)
    value: Annotated[str, BeforeValidator(_scalar_to_str)] = Field(
        description="Its value; may use this flow's {{ params.x }}, {{ steps.a.outputs.y }}, ...",
        max_length=4096,
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )


class TemplateSource(ApiModel):
    """A template a flow was resolved from, as it was read."""

    kind: TemplateKind = Field(description="JobFlowTemplate or ClusterJobFlowTemplate.")
    name: str = Field(description="Its name.")
    namespace: str | None = Field(default=None, description="Its namespace (namespaced kind).")
    uid: str | None = Field(default=None, description="Its uid when read.")
    resource_version: str | None = Field(
        default=None, description="Its resourceVersion when read (the version the flow runs)."
    )


class ResolvedSpec(ApiModel):
    """The spec the flow runs, with every templateRef replaced by what it named."""

    generation: int = Field(ge=0, description="metadata.generation of the flow resolved.")
    templates: list[TemplateSource] = Field(
        default_factory=list, description="The templates read, at the version read."
    )
    spec_json: str = Field(
        max_length=MAX_SPEC_BYTES,
        description="The resolved JobFlow spec (no templateRef left) as compact JSON, "
        "validated before stored (kubectl get jobflow NAME -o jsonpath='{.status.resolved."
        "specJson}' shows it).",
    )

    @classmethod
    def of(
        cls, *, generation: int, templates: list[TemplateSource], spec: Mapping[str, Any]
    ) -> ResolvedSpec:
        text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False)
        return cls(generation=generation, templates=templates, spec_json=text)

    def spec(self) -> dict[str, Any]:
        """The resolved spec (wire form)."""
        value = json.loads(self.spec_json)
        return value if isinstance(value, dict) else {}


def template_api_path(kind: str, namespace: str, name: str) -> str:
    """The API path of a template (``namespace`` ignored for a ClusterJobFlowTemplate)."""
    if kind == CLUSTER_TEMPLATE_KIND:
        return f"/apis/{GROUP}/{VERSION}/{CLUSTER_TEMPLATE_PLURAL}/{name}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{TEMPLATE_PLURAL}/{name}"
