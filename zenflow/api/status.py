"""The status zenflow writes on a JobFlow: flow phase, progress counts, Kubernetes conditions and a
compact per-step record.

Compactness is a requirement (a 1,000-step flow must stay far below the 1.5 MiB object limit):
per-step fields are short, every optional field defaults to ``None`` and is omitted when dumped,
and messages are capped by the controller at ``limits.MAX_STEP_MESSAGE``.

Step phases (a step is in exactly one):
  Pending   - not started: dependencies not all terminal yet, or held by parallelism/suspend.
  Waiting   - a Manual step waiting for approval.
  Running   - its Job (or some matrix shard's Job) exists and has not finished.
  Retrying  - an attempt failed and the next one waits out the backoff.
  Succeeded - terminal: the Job succeeded (Manual: approved).
  Failed    - terminal: the last attempt failed (or timed out / was cancelled; see reason).
  Skipped   - terminal: not run, because `when` was false or an upstream step did not succeed.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from zenflow.api.artifact import ArtifactRecord
from zenflow.api.common import ApiModel, Condition, Time
from zenflow.api.notification import NotificationRecord
from zenflow.api.templateref import ResolvedSpec

FlowPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"]
StepPhase = Literal["Pending", "Waiting", "Running", "Retrying", "Succeeded", "Failed", "Skipped"]

FLOW_PHASES: Final[tuple[FlowPhase, ...]] = (
    "Pending",
    "Running",
    "Succeeded",
    "Failed",
    "Suspended",
)
FLOW_TERMINAL_PHASES: Final[frozenset[FlowPhase]] = frozenset({"Succeeded", "Failed"})
STEP_PHASES: Final[tuple[StepPhase, ...]] = (
    "Pending",
    "Waiting",
    "Running",
    "Retrying",
    "Succeeded",
    "Failed",
    "Skipped",
)
STEP_TERMINAL_PHASES: Final[frozenset[StepPhase]] = frozenset({"Succeeded", "Failed", "Skipped"})

# Condition types on a JobFlow (Kubernetes condition form).
CONDITION_READY: Final = "Ready"
"""True while the flow is valid and progressing or finished successfully."""
CONDITION_COMPLETED: Final = "Completed"
"""True once the flow reached Succeeded."""
CONDITION_FAILED: Final = "Failed"
"""True once the flow reached Failed; reason says why (StepFailed, Invalid, Cancelled, …)."""
CONDITION_SUSPENDED: Final = "Suspended"
CONDITION_QUEUED: Final = "Queued"
"""True while concurrencyPolicy Forbid holds the flow behind another one."""


def is_step_terminal(phase: StepPhase) -> bool:
    """Succeeded, Failed and Skipped are final (until a user-requested retry)."""
    return phase in STEP_TERMINAL_PHASES


class ShardStatus(ApiModel):
    """One Job of a matrix step."""

    index: int = Field(ge=0, description="Position of the combination in the expansion order.")
    phase: StepPhase = Field(description="Phase of this shard.")
    job_ref: str | None = Field(default=None, description="Name of the shard's current Job.")
    attempt: int | None = Field(default=None, ge=1, description="Current attempt, from 1.")
    retry_count: int | None = Field(default=None, ge=0, description="Retries used so far.")
    message: str | None = Field(default=None, description="Why the shard is in this phase.")


class ApprovalRecord(ApiModel):
    """One decision on a Manual step: who, when, and (for a rejection) why."""

    user: str = Field(description="The approver as the API server authenticated them.")
    time: Time | None = Field(default=None, description="When the decision was made.")
    decision: Literal["Approved", "Rejected"] = Field(
        default="Approved", description="Approved or Rejected."
    )
    reason: str | None = Field(default=None, description="Why it was rejected.")


class StepStatus(ApiModel):
    """Observed state of one step."""

    name: str = Field(description="Step name.")
    phase: StepPhase = Field(
        description="Pending, Waiting, Running, Retrying, Succeeded, Failed or Skipped."
    )
    reason: str | None = Field(
        default=None,
        description="CamelCase reason for the phase (e.g. UpstreamFailed, WhenFalse, "
        "DeadlineExceeded, BackoffLimitExceeded, Approved).",
    )
    message: str | None = Field(default=None, description="Human-readable details.")
    start_time: Time | None = Field(default=None, description="When the first attempt started.")
    completion_time: Time | None = Field(default=None, description="When the step finished.")
    job_ref: str | None = Field(default=None, description="Name of the step's current Job.")
    attempt: int | None = Field(default=None, ge=1, description="Current attempt, from 1.")
    retry_count: int | None = Field(default=None, ge=0, description="Retries used so far.")
    next_retry_time: Time | None = Field(
        default=None, description="When the next attempt starts (phase Retrying)."
    )
    outputs: dict[str, str] | None = Field(
        default=None, description="Output parameters published by the step."
    )
    approved_by: str | None = Field(
        default=None,
        description="Who approved this Manual step (comma-separated when several must).",
    )
    approvals: list[ApprovalRecord] | None = Field(
        default=None, description="Every approval and rejection of this Manual step."
    )
    shards: list[ShardStatus] | None = Field(
        default=None, description="Per-Job status of a matrix step."
    )
    artifacts: list[ArtifactRecord] | None = Field(
        default=None, description="Output artifacts recorded when the step's container ended."
    )


class JobFlowStatus(ApiModel):
    """Observed state of a JobFlow, written by the controller through the status subresource."""

    phase: FlowPhase = Field(
        default="Pending", description="Pending, Running, Succeeded, Failed or Suspended."
    )
    reason: str | None = Field(
        default=None,
        description="Why the flow is in this phase (e.g. Cancelled, DeadlineExceeded, Invalid, "
        "StepFailed, Queued).",
    )
    message: str | None = Field(default=None, description="Human-readable summary.")
    start_time: Time | None = Field(default=None, description="When the first step started.")
    completion_time: Time | None = Field(default=None, description="When the flow finished.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation this status reflects."
    )
    progress: str | None = Field(
        default=None, description='Finished steps over all steps, like "3/5".'
    )
    total: int | None = Field(default=None, ge=0, description="Number of steps incl. finally.")
    completed: int | None = Field(default=None, ge=0, description="Steps in a terminal phase.")
    succeeded: int | None = Field(default=None, ge=0, description="Steps that succeeded.")
    failed: int | None = Field(default=None, ge=0, description="Steps that failed.")
    skipped: int | None = Field(default=None, ge=0, description="Steps that were skipped.")
    running: int | None = Field(default=None, ge=0, description="Steps running right now.")
    retries: int | None = Field(
        default=None, ge=0, description="Retries used across all steps (vs. backoffLimit)."
    )
    conditions: list[Condition] | None = Field(
        default=None, description="Ready, Completed, Failed, Suspended, Queued conditions."
    )
    steps: list[StepStatus] | None = Field(
        default=None, description="Per-step state, in spec order (steps, then finally)."
    )
    retry_nonce: str | None = Field(
        default=None,
        description="The workflow.zen.io/retry annotation value the controller last acted on "
        "(a retry is done once per new value).",
    )
    resolved: ResolvedSpec | None = Field(
        default=None,
        description="The spec the flow runs when it uses templateRef: resolved once, so later "
        "template edits never change this flow.",
    )
    notifications: list[NotificationRecord] | None = Field(
        default=None,
        description="Notifications delivered (or given up on) in the current run, so a "
        "restarted controller sends none twice.",
    )
