"""Size limits of the API, chosen so a flow object stays far below the 1.5 MiB etcd limit.

Budget for the largest allowed flow (MAX_STEPS + MAX_FINALLY_STEPS = 1,020 steps):
  * spec <= MAX_SPEC_BYTES = 256 KiB. That is also the most client-side `kubectl apply` can
    handle: it copies the spec into the last-applied annotation, and annotations are capped at
    256 KiB in total.
  * status <= MAX_STATUS_BYTES = 768 KiB, as the validator estimates it from the spec before the
    flow runs, counting every field at its maximum: a step entry is a few short fields (name <= 40
    chars, phase, reason, three timestamps, Job name <= 63, attempt, retries) plus a message the
    controller clips to MAX_STEP_MESSAGE chars (about 580 B in all), a Manual step's approver,
    a matrix shard a compact entry (about 290 B, its message clipped to MAX_SHARD_MESSAGE), and
    outputs the controller caps at MAX_STATUS_OUTPUTS_BYTES per step and MAX_FLOW_OUTPUTS_BYTES
    per flow. 1,020 steps with full messages and outputs: about 700 KiB.
  * metadata incl. managedFields (field names only, no values): below the spec size.
A flow whose estimate is over the budget, or that would run more than MAX_JOBS_PER_FLOW Jobs
(steps and matrix shards), is invalid. Should a status write still be refused as too large, the
controller fails the flow with a compact status and stops its Jobs.

Each Job a step renders is at most MAX_RENDERED_JOB_BYTES, counting every ``{{ }}`` at the
largest value it can take (a param's value, an output at its cap); nesting of free-form fields
is bounded by MAX_SPEC_DEPTH; ``when`` expressions by length and nesting.
"""

from __future__ import annotations

from typing import Final

MAX_STEPS: Final = 1000
"""Most entries in spec.steps."""
MAX_FINALLY_STEPS: Final = 20
"""Most entries in spec.finally."""
MAX_DEPENDENCIES: Final = 100
"""Most entries in one step's dependencies (fan in wider with a matrix step)."""
MAX_PARAMS: Final = 100
MAX_OUTPUTS: Final = 32
"""Most output parameters per step."""
MAX_INPUTS: Final = 64
MAX_MATRIX_KEYS: Final = 8
MAX_MATRIX_VALUES: Final = 256
"""Most values per matrix key."""
MAX_MATRIX_SHARDS: Final = 256
"""Most Jobs one matrix step fans out into (the cross product, also for lists from outputs)."""
MAX_RETRY_LIMIT: Final = 100
MAX_RESOURCE_TEMPLATES: Final = 32
MAX_ENV: Final = 100
MAX_LABELS: Final = 64

MAX_SPEC_BYTES: Final = 256 * 1024
"""Largest serialized spec (compact JSON) accepted."""
MAX_STEP_MESSAGE: Final = 256
"""Longest step status message the controller writes (longer ones are truncated)."""
MAX_STATUS_OUTPUTS_BYTES: Final = 1024
"""Largest total size of one step's output values kept in status (the controller truncates)."""
MAX_FLOW_OUTPUTS_BYTES: Final = 128 * 1024
"""Largest total size of all output values kept in one flow's status (later ones are dropped)."""
MAX_SHARD_MESSAGE: Final = 128
"""Longest message of one matrix shard in the status (Failed and Retrying shards only)."""
MAX_STATUS_BYTES: Final = 768 * 1024
"""Largest status the validator's estimate allows (the rest of 1.5 MiB: spec and metadata)."""
MAX_JOBS_PER_FLOW: Final = 2000
"""Most Jobs one run of a flow creates: one per Job step, one per matrix shard (a matrix over an
upstream output counts as MAX_MATRIX_SHARDS); retries add attempts of these."""
MAX_RENDERED_JOB_BYTES: Final = 512 * 1024
"""Largest Job a step may render, every {{ }} counted at the largest value it can take."""
MAX_SPEC_DEPTH: Final = 32
"""Deepest nesting of a spec (the spec object is 1); Kubernetes' own Job template nests ~20."""
MAX_WHEN_LENGTH: Final = 1024
MAX_MESSAGE_LENGTH: Final = 1024
"""Longest Manual-step message in the spec."""
MAX_STRING: Final = 4096
"""Generic cap on short strings (names, images, paths) in the CRD schema."""
MAX_SCRIPT_LENGTH: Final = 64 * 1024

MAX_NAME_LENGTH: Final = 63
"""DNS-1123 label limit: Job names, and so pod label values, must fit in it."""
MAX_STEP_NAME_LENGTH: Final = 40
"""Step names up to this length keep readable Job names for typical flow names."""
MAX_PARAM_NAME_LENGTH: Final = 63

MAX_NOTIFICATIONS: Final = 8
"""Most entries in spec.notifications."""
MAX_NOTIFICATION_RETRIES: Final = 20
"""Most retries of one notification's delivery (``retry.limit``)."""
MAX_NOTIFICATION_TIMEOUT_SECONDS: Final = 60
"""Longest ``timeoutSeconds`` of one delivery attempt."""
MAX_STEP_NOTICES: Final = 20
"""Most per-step notices (StepFailed, Waiting) one notification sends per run; failures beyond
it are summed up by the flow's own Failed notice."""

MAX_WHEN_NESTING: Final = 16
"""Deepest nesting of parentheses, brackets and braces in a ``when`` expression."""
MAX_WHEN_SYNTAX_DEPTH: Final = 200
"""Deepest parse tree of a ``when`` expression (bounds the evaluator's recursion)."""
