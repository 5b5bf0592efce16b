"""Names of our API group, resources and the labels/annotations we put on what we create."""

from typing import Final

GROUP: Final = "workflow.zen.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

JOBFLOW_KIND: Final = "JobFlow"
JOBFLOW_PLURAL: Final = "jobflows"
CRONJOBFLOW_KIND: Final = "CronJobFlow"
CRONJOBFLOW_PLURAL: Final = "cronjobflows"
CATEGORY: Final = "zenflow"

# Labels on every Job a flow creates. ``jobflow=<name>`` is the user-facing selector of the seed
# guide (``kubectl get jobs -l jobflow=NAME``); the prefixed ones are for the controller.
LABEL_JOBFLOW_SHORT: Final = "jobflow"
LABEL_JOBFLOW: Final = f"{GROUP}/jobflow"
LABEL_STEP: Final = f"{GROUP}/step"
LABEL_ATTEMPT: Final = f"{GROUP}/attempt"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "zenflow"
LABEL_CONCURRENCY_GROUP: Final = f"{GROUP}/concurrency-group"
LABEL_CRONJOBFLOW: Final = f"{GROUP}/cronjobflow"
# Sharding (``--sharding``, zenflow.controller.sharding): the replica that owns (reconciles) an
# object, on JobFlows, CronJobFlows and a flow's Jobs; ``drain=true`` asks the owner to let the
# object go (it acknowledges by removing both); the shard-lease label marks membership Leases.
LABEL_SHARD: Final = f"{GROUP}/shard"
LABEL_DRAIN: Final = f"{GROUP}/drain"
LABEL_SHARD_LEASE: Final = f"{GROUP}/shard-lease"

# Annotations users set on a JobFlow to act on it (also set by `kubectl jobflow …`).
ANNOTATION_RETRY: Final = f"{GROUP}/retry"
ANNOTATION_RETRY_STEP: Final = f"{GROUP}/retry-step"
ANNOTATION_APPROVE: Final = f"{GROUP}/approve"
ANNOTATION_CANCEL: Final = f"{GROUP}/cancel"
ANNOTATION_APPROVED_BY: Final = f"{GROUP}/approved-by"
ANNOTATION_APPROVALS: Final = f"{GROUP}/approvals"
"""JSON list of decisions on Manual steps, each naming its user (zenflow.api.approvals)."""

FINALIZER: Final = f"{GROUP}/finalizer"
FIELD_MANAGER: Final = "zenflow-controller"
