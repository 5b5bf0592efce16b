"""The ``JobFlow`` kind (``workflow.zen.io/v1alpha1``): a DAG of steps, each run as a batch/v1
Job, plus flow-wide params, env, execution policy and resource templates.

Parameters: ``spec.params[]`` declare ``name``, ``default``, ``description``, ``required`` (and
optionally ``enum``). A run supplies a value by setting ``spec.params[].value`` (that is what
CronJobFlow templates and ``kubectl jobflow run --param k=v`` write); the effective value is
``value`` if set, else ``default``. A required param without either is a validation error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from zenflow.api import limits
from zenflow.api.common import ApiModel, ConcurrencyPolicy, ObjectMetaAccess
from zenflow.api.constants import API_VERSION, JOBFLOW_KIND
from zenflow.api.notification import Notification
from zenflow.api.status import JobFlowStatus
from zenflow.api.step import (
    Backoff,
    BackoffType,
    Matrix,
    MatrixValue,
    OutputSource,
    RetryPolicy,
    RunSpec,
    Step,
    StepInput,
    StepOutput,
    StepType,
    TerminationMessageSource,
)
from zenflow.api.templateref import FlowTemplateRef
from zenflow.api.workspace import MAX_WORKSPACES, Workspace

__all__ = [
    "Backoff",
    "BackoffType",
    "ExecutionPolicy",
    "JobFlow",
    "JobFlowSpec",
    "Matrix",
    "MatrixValue",
    "OutputSource",
    "Param",
    "ResourceTemplates",
    "RetryPolicy",
    "RunSpec",
    "Step",
    "StepInput",
    "StepOutput",
    "StepType",
    "TerminationMessageSource",
]


def _scalar_to_str(value: Any) -> Any:
    """Param values are strings; YAML numbers and booleans are accepted and stringified."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


ParamValue = Annotated[str, BeforeValidator(_scalar_to_str)]
# The CRD accepts YAML numbers for param values too (kept as strings by the models).
_INT_OR_STRING: dict[str, Any] = {"x-kubernetes-int-or-string": True}


class Param(ApiModel):
    """A flow parameter, substituted as {{ params.NAME }} and visible to `when` as params.NAME."""

    name: str = Field(
        description="Parameter name: a letter or _, then letters, digits or _.",
        max_length=limits.MAX_PARAM_NAME_LENGTH,
    )
    description: str | None = Field(default=None, description="What the parameter means.")
    default: ParamValue | None = Field(
        default=None,
        description="Value used when no value is given.",
        json_schema_extra=_INT_OR_STRING,
    )
    value: ParamValue | None = Field(
        default=None,
        description="Value for this run (set by CronJobFlow templates or `kubectl jobflow run "
        "--param`); overrides default.",
        json_schema_extra=_INT_OR_STRING,
    )
    required: bool = Field(
        default=False, description="The flow is invalid unless value or default is set."
    )
    enum: list[str] | None = Field(
        default=None, description="If set, the effective value must be one of these."
    )

    @property
    def effective(self) -> str | None:
        """The value the flow runs with: ``value``, else ``default``."""
        return self.value if self.value is not None else self.default


class ExecutionPolicy(ApiModel):
    """Flow-wide execution rules."""

    concurrency_policy: ConcurrencyPolicy = Field(
        default="Allow",
        description="Among flows of one concurrency group (label "
        "workflow.zen.io/concurrency-group, else the generateName prefix): Allow runs them "
        "together, Forbid queues the newer one, Replace cancels the older running one.",
    )
    ttl_seconds_after_finished: int | None = Field(
        default=None,
        ge=0,
        description="Delete the flow (and its Jobs) this long after it finished; unset = keep.",
    )
    backoff_limit: int | None = Field(
        default=None, ge=0, description="Retry budget across all steps of the flow."
    )
    active_deadline_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Deadline of the whole flow; running Jobs are terminated when it passes.",
    )
    pod_failure_policy: dict[str, Any] | None = Field(
        default=None,
        description="A batch/v1 podFailurePolicy given to every step's Job.",
    )
    parallelism: int | None = Field(
        default=None, ge=1, description="Most steps running at once (default: no limit)."
    )
    fail_fast: bool = Field(
        default=True,
        description="After a step fails, start no new steps; false lets independent branches "
        "go on.",
    )


class ResourceTemplates(ApiModel):
    """Objects created before the first step and owned by the flow."""

    volume_claim_templates: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=limits.MAX_RESOURCE_TEMPLATES,
        description="core/v1 PersistentVolumeClaims (metadata.name required).",
    )
    config_map_templates: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=limits.MAX_RESOURCE_TEMPLATES,
        description="core/v1 ConfigMaps (metadata.name required).",
    )


class JobFlowSpec(ApiModel):
    """What the flow runs."""

    steps: list[Step] = Field(
        default_factory=list,
        max_length=limits.MAX_STEPS,
        description="The steps; dependencies between them form a DAG (at least one, unless "
        "templateRef gives them).",
    )
    finally_: list[Step] = Field(
        default_factory=list,
        alias="finally",
        max_length=limits.MAX_FINALLY_STEPS,
        description="Steps run after all others are finished, whatever happened (cleanup, "
        "notification). They may depend on each other, not on regular steps.",
    )
    params: list[Param] = Field(
        default_factory=list,
        max_length=limits.MAX_PARAMS,
        description="Parameters of the flow, substituted as {{ params.NAME }}.",
    )
    env: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=limits.MAX_ENV,
        description="Environment variables (core/v1 EnvVar) added to every step container.",
    )
    execution_policy: ExecutionPolicy = Field(
        default_factory=ExecutionPolicy, description="Flow-wide execution rules."
    )
    resource_templates: ResourceTemplates | None = Field(
        default=None, description="PVCs and ConfigMaps created before the first step."
    )
    suspend: bool = Field(
        default=False, description="Start no new steps while true; running Jobs go on."
    )
    workspaces: list[Workspace] = Field(
        default_factory=list,
        max_length=MAX_WORKSPACES,
        description="Named volumes the steps mount (a claim created for the flow, an existing "
        "claim, a ConfigMap, a Secret, or one step's emptyDir).",
    )
    template_ref: FlowTemplateRef | None = Field(
        default=None,
        description="Run a whole JobFlowTemplate or ClusterJobFlowTemplate; params give its "
        "params' values. Resolved when the flow is created.",
    )
    notifications: list[Notification] = Field(
        default_factory=list,
        max_length=limits.MAX_NOTIFICATIONS,
        description="Receivers told about the flow's events (Succeeded, Failed, Waiting, "
        "StepFailed); unset: the controller-wide default, if any.",
    )

    def all_steps(self) -> list[Step]:
        """Regular steps followed by finally steps."""
        return [*self.steps, *self.finally_]

    def param_values(self) -> dict[str, str]:
        """Effective value of every param that has one."""
        return {p.name: v for p in self.params if (v := p.effective) is not None}


class JobFlow(ObjectMetaAccess, ApiModel):
    """A DAG of Kubernetes Jobs."""

    api_version: str = Field(default=API_VERSION, description="workflow.zen.io/v1alpha1")
    kind: str = Field(default=JOBFLOW_KIND, description="JobFlow")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")
    spec: JobFlowSpec = Field(description="What the flow runs.")
    status: JobFlowStatus | None = Field(default=None, description="What the controller saw.")


def parse_jobflow(obj: Mapping[str, Any]) -> JobFlow:
    """Parse a JobFlow object (wire form); raises ``pydantic.ValidationError``."""
    return JobFlow.model_validate(obj)
