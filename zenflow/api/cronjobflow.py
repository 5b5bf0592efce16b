"""The ``CronJobFlow`` kind: creates a JobFlow from a template on a cron schedule, as CronJob
does for Jobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from zenflow.api.common import (
    ApiModel,
    ConcurrencyPolicy,
    Condition,
    LabelsAnnotations,
    ObjectMetaAccess,
    Time,
)
from zenflow.api.constants import API_VERSION, CRONJOBFLOW_KIND
from zenflow.api.jobflow import JobFlowSpec


class JobFlowTemplate(ApiModel):
    """The JobFlow each scheduled run creates."""

    metadata: LabelsAnnotations | None = Field(
        default=None, description="Labels and annotations of the created JobFlows."
    )
    spec: JobFlowSpec = Field(description="Spec of the created JobFlows.")


class CronJobFlowSpec(ApiModel):
    """When and how to create JobFlows."""

    schedule: str = Field(
        description='Cron schedule, 5 fields ("0 2 * * *") or a macro like @daily.',
        max_length=256,
    )
    time_zone: str | None = Field(
        default=None,
        description='IANA time zone of the schedule (e.g. "Europe/Paris"); default UTC.',
        max_length=64,
    )
    concurrency_policy: ConcurrencyPolicy = Field(
        default="Allow",
        description="Allow concurrent runs, Forbid (skip a run while one is active) or "
        "Replace (cancel the active run).",
    )
    starting_deadline_seconds: int | None = Field(
        default=None,
        ge=0,
        description="A run missed by more than this many seconds is skipped.",
    )
    successful_jobs_history_limit: int = Field(
        default=3, ge=0, description="Finished successful JobFlows to keep."
    )
    failed_jobs_history_limit: int = Field(
        default=1, ge=0, description="Finished failed JobFlows to keep."
    )
    suspend: bool = Field(default=False, description="Create no new runs while true.")
    job_flow_template: JobFlowTemplate = Field(description="The JobFlow created per run.")


class ObjectRef(ApiModel):
    """Reference to a JobFlow created by a CronJobFlow."""

    name: str = Field(description="JobFlow name.")
    namespace: str | None = Field(default=None, description="JobFlow namespace.")
    uid: str | None = Field(default=None, description="JobFlow uid.")


class CronJobFlowStatus(ApiModel):
    """Observed state of a CronJobFlow."""

    last_schedule_time: Time | None = Field(
        default=None, description="When a run was last created."
    )
    last_successful_time: Time | None = Field(
        default=None, description="When a run last finished successfully."
    )
    active: list[ObjectRef] | None = Field(default=None, description="Runs not finished yet.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation this status reflects."
    )
    conditions: list[Condition] | None = Field(
        default=None, description="Conditions (e.g. Invalid schedule)."
    )


class CronJobFlow(ObjectMetaAccess, ApiModel):
    """Runs a JobFlow on a schedule."""

    api_version: str = Field(default=API_VERSION, description="workflow.zen.io/v1alpha1")
    kind: str = Field(default=CRONJOBFLOW_KIND, description="CronJobFlow")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")
    spec: CronJobFlowSpec = Field(description="Schedule and template.")
    status: CronJobFlowStatus | None = Field(default=None, description="What the controller saw.")


def parse_cronjobflow(obj: Mapping[str, Any]) -> CronJobFlow:
    """Parse a CronJobFlow object (wire form); raises ``pydantic.ValidationError``."""
    return CronJobFlow.model_validate(obj)
