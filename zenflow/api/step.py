"""One step of a JobFlow: what runs (a Job template or the ``run`` shorthand), when (dependencies,
``when``), how it is retried and timed out, what it passes on (outputs), and how it fans out
(matrix). ``zenflow.api.jobflow`` re-exports everything here.

Semantic rules (names, references, exactly one of template/run, …) are checked by
``zenflow.core.validation.validator``; these models only fix the shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zenflow.api import limits
from zenflow.api.artifact import StepArtifacts
from zenflow.api.common import ApiModel, LabelsAnnotations
from zenflow.api.duration import DURATION_PATTERN, parse_duration
from zenflow.api.naming import STEP_NAME_PATTERN
from zenflow.api.templateref import MAX_TEMPLATE_PARAMS, ParamValue, StepTemplateRef
from zenflow.api.workspace import MAX_STEP_WORKSPACES, WorkspaceMount

StepType = Literal["Job", "Manual"]
BackoffType = Literal["Exponential", "Linear", "Fixed"]
OnTimeout = Literal["Fail", "Skip", "Approve"]
MAX_APPROVERS = 100
"""Most entries in each list of approval.approvers."""
MAX_REQUIRED_APPROVALS = 10

MatrixValue = str | int
"""One value of a matrix key: strings or integers (``[1, 2, 3]``, ``[us, eu]``)."""


class Backoff(ApiModel):
    """Delay before each retry. For the n-th retry (n = 1, 2, …): Fixed waits ``duration``,
    Linear ``duration * n``, Exponential ``duration * factor^(n-1)``; every delay is capped at
    ``maxDuration``."""

    type: BackoffType = Field(
        default="Exponential", description="How the delay grows: Exponential, Linear or Fixed."
    )
    duration: str = Field(
        default="10s",
        description='Base delay as a Go duration ("10s", "1m30s", "500ms").',
        json_schema_extra={"pattern": DURATION_PATTERN, "maxLength": 64},
    )
    factor: float | None = Field(
        default=None,
        ge=1,
        description="Multiplier per retry for Exponential backoff (default 2).",
    )
    max_duration: str | None = Field(
        default=None,
        description="Upper bound of any single delay, as a Go duration.",
        json_schema_extra={"pattern": DURATION_PATTERN, "maxLength": 64},
    )

    def delay_seconds(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry).

        Raises ``DurationError`` for malformed durations (the validator rejects those first)."""
        base = parse_duration(self.duration)
        n = max(retry, 1)
        if self.type == "Fixed":
            delay = base
        elif self.type == "Linear":
            delay = base * n
        else:
            factor = self.factor if self.factor is not None else 2.0
            # Cap the exponent so a huge retry number cannot overflow float.
            delay = base * factor ** min(n - 1, 64)
        if self.max_duration is not None:
            delay = min(delay, parse_duration(self.max_duration))
        return delay


class RetryPolicy(ApiModel):
    """How often a failed step is run again before it counts as failed."""

    limit: int = Field(
        default=0,
        ge=0,
        le=limits.MAX_RETRY_LIMIT,
        description="Retries after the first attempt (0 = no retry). Each retry is a new Job.",
    )
    backoff: Backoff | None = Field(
        default=None, description="Delay between attempts; omitted means retry at once."
    )


class RunSpec(ApiModel):
    """Shorthand for a one-container Job: zenflow builds the Job (restartPolicy Never) from it."""

    image: str = Field(description="Container image.", max_length=limits.MAX_STRING)
    command: list[str] | None = Field(
        default=None, description="Entrypoint (argv). Mutually exclusive with script."
    )
    args: list[str] | None = Field(default=None, description="Arguments to the entrypoint.")
    script: str | None = Field(
        default=None,
        max_length=limits.MAX_SCRIPT_LENGTH,
        description="Shell script run as `sh -c SCRIPT` (fails on the first failing command "
        "only if it says `set -e`). Mutually exclusive with command.",
    )
    env: list[dict[str, Any]] | None = Field(
        default=None,
        description="Environment variables (core/v1 EnvVar objects) of the container.",
    )
    working_dir: str | None = Field(
        default=None, description="Working directory of the container.", max_length=4096
    )
    resources: dict[str, Any] | None = Field(
        default=None,
        description="Container resources (core/v1 ResourceRequirements).",
    )


class TerminationMessageSource(ApiModel):
    """Read an output from the JSON object the step's container wrote as its termination
    message (/dev/termination-log)."""

    key: str | None = Field(
        default=None, description="Key in the JSON object; defaults to the output's name."
    )


class OutputSource(ApiModel):
    """Where an output's value comes from: exactly one of the fields."""

    termination_message: TerminationMessageSource | None = Field(
        default=None, description="A key of the container's JSON termination message."
    )
    json_path: str | None = Field(
        default=None,
        description="A JSONPath over the step's finished Job object, e.g. {.status.succeeded}.",
        max_length=1024,
    )


class StepOutput(ApiModel):
    """An output parameter of a step, readable downstream as {{ steps.NAME.outputs.OUTPUT }}
    and in `when` as steps.NAME.outputs.OUTPUT."""

    name: str = Field(description="Output name (letters, digits, _ and -).", max_length=63)
    value_from: OutputSource | None = Field(
        default=None,
        description="Source of the value; omitted means the termination message key NAME.",
    )
    description: str | None = Field(default=None, description="What the output holds.")


class StepInput(ApiModel):
    """A named value handed to the step's containers as an environment variable of that name,
    after {{ }} substitution (e.g. an upstream output)."""

    name: str = Field(
        description="Environment variable name (a C identifier).", max_length=limits.MAX_STRING
    )
    value: str = Field(
        description="The value; may use {{ params.x }}, {{ steps.a.outputs.y }}, …",
        max_length=limits.MAX_STRING,
    )
    description: str | None = Field(default=None, description="What the input is for.")


class Matrix(ApiModel):
    """Fan a step out into one Job per combination (cross product) of the values. Dependents
    wait for all of them; {{ matrix.KEY }} is substituted in each."""

    values: dict[str, list[MatrixValue]] | None = Field(
        default=None, description="Literal values per key, e.g. {region: [us, eu]}."
    )
    from_: dict[str, str] | None = Field(
        default=None,
        alias="from",
        description="Values per key taken at run time from an upstream output holding a JSON "
        'list, e.g. {partition: "{{ steps.split.outputs.partitions }}"}.',
    )
    max_parallel: int | None = Field(
        default=None, ge=1, description="Most shards running at once (default: no limit)."
    )
    fail_fast: bool = Field(
        default=True,
        description="When a shard fails (after retries), start no further shards.",
    )


class Approvers(ApiModel):
    """Who may approve or reject a Manual step (any one list matching is enough)."""

    users: list[str] = Field(
        default_factory=list, max_length=MAX_APPROVERS, description="User names."
    )
    groups: list[str] = Field(
        default_factory=list,
        max_length=MAX_APPROVERS,
        description="Groups; a user in any of them may approve.",
    )
    service_accounts: list[str] = Field(
        default_factory=list,
        max_length=MAX_APPROVERS,
        description="ServiceAccounts as NAME (the flow's namespace) or NAMESPACE/NAME.",
    )


class ApprovalPolicy(ApiModel):
    """Who may release a Manual step, how many must, and what happens if nobody does.

    Without ``approvers``, approving needs the RBAC verb ``approve`` on the JobFlow (checked
    by the admission webhook with a SubjectAccessReview)."""

    approvers: Approvers | None = Field(
        default=None,
        description="Who may approve or reject; unset: whoever holds the RBAC verb approve on "
        "jobflows.",
    )
    required: int = Field(
        default=1,
        ge=1,
        le=MAX_REQUIRED_APPROVALS,
        description="Distinct approvers needed to release the step (2: the two-person rule).",
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Seconds the step waits for approval before onTimeout acts; unset: forever.",
    )
    on_timeout: OnTimeout = Field(
        default="Fail",
        description="Fail (the step fails), Skip (the step is skipped) or Approve (it is "
        "released) when timeoutSeconds pass.",
    )


class Step(ApiModel):
    """A node of the DAG: one Kubernetes Job (or one per matrix combination), or a Manual
    approval gate."""

    name: str = Field(
        description="Unique step name: a DNS-1123 label starting with a letter, at most "
        f"{limits.MAX_STEP_NAME_LENGTH} characters.",
        json_schema_extra={"maxLength": limits.MAX_STEP_NAME_LENGTH, "pattern": STEP_NAME_PATTERN},
    )
    type: StepType = Field(
        default="Job",
        description="Job runs a Kubernetes Job; Manual waits for approval (kubectl jobflow "
        "approve) and runs nothing.",
    )
    message: str | None = Field(
        default=None,
        max_length=limits.MAX_MESSAGE_LENGTH,
        description="Text shown while a Manual step waits for approval.",
    )
    approval: ApprovalPolicy | None = Field(
        default=None,
        description="Approval policy of a Manual step: approvers, how many, timeout.",
    )
    dependencies: list[str] = Field(
        default_factory=list,
        max_length=limits.MAX_DEPENDENCIES,
        description="Names of steps that must be finished before this one is considered.",
        # Bounded item length keeps the CRD's CEL rules within the API server's cost budget.
        json_schema_extra={"items": {"type": "string", "maxLength": limits.MAX_STEP_NAME_LENGTH}},
    )
    template: dict[str, Any] | None = Field(
        default=None,
        description="A batch/v1 Job (apiVersion and kind may be omitted) run for this step.",
    )
    run: RunSpec | None = Field(
        default=None,
        description="Shorthand instead of template: one container from image + command/script.",
    )
    retry_policy: RetryPolicy | None = Field(
        default=None, description="Retries of a failed step, with backoff."
    )
    timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Deadline of each attempt in seconds (the Job's activeDeadlineSeconds).",
    )
    continue_on_failure: bool = Field(
        default=False,
        description="If the step fails, its dependents still run and the flow does not fail.",
    )
    when: str | None = Field(
        default=None,
        max_length=limits.MAX_WHEN_LENGTH,
        description="CEL condition over params, steps.NAME.{phase,outputs,retries} and flow; "
        "the step runs iff it is true, whatever the upstream outcome.",
    )
    inputs: list[StepInput] = Field(
        default_factory=list,
        max_length=limits.MAX_INPUTS,
        description="Values passed to the step's containers as environment variables.",
    )
    outputs: list[StepOutput] = Field(
        default_factory=list,
        max_length=limits.MAX_OUTPUTS,
        description="Output parameters the step publishes for later steps.",
    )
    matrix: Matrix | None = Field(
        default=None, description="Fan the step out into one Job per value combination."
    )
    metadata: LabelsAnnotations | None = Field(
        default=None, description="Labels and annotations added to the step's Job(s)."
    )
    workspaces: list[WorkspaceMount] = Field(
        default_factory=list,
        max_length=MAX_STEP_WORKSPACES,
        description="Workspaces of the flow this step mounts, and where.",
    )
    artifacts: StepArtifacts | None = Field(
        default=None, description="Files this step takes from earlier steps and leaves."
    )
    template_ref: StepTemplateRef | None = Field(
        default=None,
        description="Run a step of a JobFlowTemplate or ClusterJobFlowTemplate (instead of "
        "template or run), resolved when the flow is created.",
    )
    params: list[ParamValue] = Field(
        default_factory=list,
        max_length=MAX_TEMPLATE_PARAMS,
        description="Values of the referenced template's params (with templateRef).",
    )
