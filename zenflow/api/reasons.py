"""Every reason zenflow writes into a JobFlow's status, conditions and Events: one vocabulary,
in one place, so ``kubectl describe``, the docs and alerts can rely on the exact words.

Flow-level reasons end the flow (``status.reason`` and the Failed condition's reason);
step-level reasons explain a step's phase (``status.steps[].reason``)."""

from __future__ import annotations

from typing import Final

# Flow-level reasons.
REASON_CANCELLED: Final = "Cancelled"
REASON_DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
REASON_INVALID: Final = "Invalid"
REASON_STEP_FAILED: Final = "StepFailed"
REASON_BACKOFF_LIMIT_EXCEEDED: Final = "BackoffLimitExceeded"
REASON_REPLACED: Final = "Replaced"
REASON_RESOURCE_CONFLICT: Final = "ResourceConflict"
REASON_STATUS_TOO_LARGE: Final = "StatusTooLarge"
"""The API server refused the flow's status as too large: the flow stops, its Jobs too."""
REASON_QUEUED: Final = "Queued"
REASON_TEMPLATE_NOT_FOUND: Final = "TemplateNotFound"
"""A JobFlowTemplate or ClusterJobFlowTemplate the flow refers to does not exist: nothing runs."""

# Step-level reasons.
REASON_APPROVED: Final = "Approved"
REASON_ARTIFACT_MISSING: Final = "ArtifactMissing"
"""An output artifact was not there when its producer's container ended (the step fails), or an
input artifact's producer did not record it (the consumer is skipped)."""
REASON_REJECTED: Final = "Rejected"
REASON_APPROVAL_TIMEOUT: Final = "ApprovalTimeout"
REASON_FAIL_FAST: Final = "FailFast"
REASON_JOB_CONFLICT: Final = "JobConflict"
REASON_JOB_REJECTED: Final = "JobRejected"
REASON_JOB_DELETED: Final = "JobDeleted"
"""The step's Job disappeared while it ran: a failed attempt (the retry policy applies)."""
REASON_QUOTA_EXCEEDED: Final = "QuotaExceeded"
"""A ResourceQuota refused the step's Job for now: the step waits (Pending) and tries again."""
REASON_THROTTLED: Final = "Throttled"
"""The API server throttled the Job create (429): the step waits and tries again."""
REASON_JOB_CREATE_FAILED: Final = "JobCreateFailed"
"""The Job create failed for a passing reason (5xx, a timeout): the step waits and tries again."""
REASON_MATRIX_ERROR: Final = "MatrixError"
REASON_SHARD_FAILED: Final = "ShardFailed"
REASON_TEMPLATE_ERROR: Final = "TemplateError"
REASON_UPSTREAM_FAILED: Final = "UpstreamFailed"
REASON_UPSTREAM_SKIPPED: Final = "UpstreamSkipped"
REASON_WHEN_ERROR: Final = "WhenError"
REASON_WHEN_FALSE: Final = "WhenFalse"
