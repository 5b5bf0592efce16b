"""The reusable template kinds: ``JobFlowTemplate`` (namespaced; short name ``jft``) and
``ClusterJobFlowTemplate`` (cluster-scoped; ``cjft``).

A template's spec is a flow spec without run-time switches: declared ``params`` (name, default,
description, required, enum), step templates (each with its Job or ``run``, inputs, outputs,
artifacts and workspaces), and optionally ``finally`` steps, ``env``, ``workspaces``,
``executionPolicy`` and ``resourceTemplates`` for flows made from the whole template. A flow uses
one step of it (``steps[].templateRef``) or all of it (``spec.templateRef``); see
``zenflow.api.templateref`` and ``zenflow.core.flowtemplates``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from zenflow.api import limits
from zenflow.api.common import ApiModel, ObjectMetaAccess
from zenflow.api.constants import API_VERSION
from zenflow.api.jobflow import ExecutionPolicy, Param, ResourceTemplates, Step
from zenflow.api.templateref import CLUSTER_TEMPLATE_KIND, TEMPLATE_KIND
from zenflow.api.workspace import MAX_WORKSPACES, Workspace


class FlowTemplateSpec(ApiModel):
    """What a template offers: params and steps (plus what a whole flow made from it needs)."""

    description: str | None = Field(
        default=None, max_length=limits.MAX_MESSAGE_LENGTH, description="What the template does."
    )
    params: list[Param] = Field(
        default_factory=list,
        max_length=limits.MAX_PARAMS,
        description="Declared params, substituted as {{ params.NAME }} in the template's steps; "
        "a flow or step using the template gives their values.",
    )
    steps: list[Step] = Field(
        max_length=limits.MAX_STEPS,
        description="Step templates (a flow made from the whole template runs them as a DAG).",
    )
    finally_: list[Step] = Field(
        default_factory=list,
        alias="finally",
        max_length=limits.MAX_FINALLY_STEPS,
        description="Steps run last, for flows made from the whole template.",
    )
    env: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=limits.MAX_ENV,
        description="Environment variables (core/v1 EnvVar) of every step container, for flows "
        "made from the whole template.",
    )
    execution_policy: ExecutionPolicy | None = Field(
        default=None, description="Execution rules of flows made from the whole template."
    )
    resource_templates: ResourceTemplates | None = Field(
        default=None, description="PVCs and ConfigMaps of flows made from the whole template."
    )
    workspaces: list[Workspace] = Field(
        default_factory=list,
        max_length=MAX_WORKSPACES,
        description="Workspaces of flows made from the whole template (a flow using one step "
        "declares the workspaces that step mounts itself).",
    )

    def all_steps(self) -> list[Step]:
        return [*self.steps, *self.finally_]


class FlowTemplate(ObjectMetaAccess, ApiModel):
    """JobFlowTemplate: reusable steps in one namespace."""

    api_version: str = Field(default=API_VERSION, description="workflow.zen.io/v1alpha1")
    kind: str = Field(default=TEMPLATE_KIND, description="JobFlowTemplate")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")
    spec: FlowTemplateSpec = Field(description="Params and step templates.")


class ClusterFlowTemplate(ObjectMetaAccess, ApiModel):
    """ClusterJobFlowTemplate: reusable steps for every namespace."""

    api_version: str = Field(default=API_VERSION, description="workflow.zen.io/v1alpha1")
    kind: str = Field(default=CLUSTER_TEMPLATE_KIND, description="ClusterJobFlowTemplate")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")
    spec: FlowTemplateSpec = Field(description="Params and step templates.")


def parse_template(obj: Mapping[str, Any]) -> FlowTemplate | ClusterFlowTemplate:
    """Parse either template kind (by ``kind``); raises ``pydantic.ValidationError``."""
    if obj.get("kind") == CLUSTER_TEMPLATE_KIND:
        return ClusterFlowTemplate.model_validate(obj)
    return FlowTemplate.model_validate(obj)
