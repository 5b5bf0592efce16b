"""Size limits of the API, chosen so a flow object stays far below the 1.5 MiB etcd limit.

Budget for the largest allowed flow (MAX_STEPS + MAX_FINALLY_STEPS = 1,020 steps):
  * spec <= MAX_SPEC_BYTES = 256 KiB. That is also the most client-side `kubectl apply` can
    handle: it copies the spec into the last-applied annotation, and annotations are capped at
    256 KiB in total.
  * status: a step entry is a few short fields (name <= 40 chars, phase, reason, two
    timestamps, Job name <= 63, attempt, retries) - about 250 B - plus a message the controller
    truncates to MAX_STEP_MESSAGE chars and outputs it caps at MAX_STATUS_OUTPUTS_BYTES per step
    and MAX_FLOW_OUTPUTS_BYTES per flow. Typical: 1,020 x 250 B = 250 KiB; worst case with every
    message full: 1,020 x 520 B = 520 KiB, plus at most 256 KiB of outputs.
  * metadata incl. managedFields (field names only, no values): below the spec size.
Worst case ~1.3 MiB only if everything is at its maximum at once; a 1,000-step flow with full
messages and no outputs stays under ~1 MiB, and typical ones under 500 KiB.
Matrix shards add a compact entry each (MAX_MATRIX_SHARDS per step).
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
MAX_FLOW_OUTPUTS_BYTES: Final = 256 * 1024
"""Largest total size of all output values kept in one flow's status."""
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

MAX_WHEN_NESTING: Final = 16
"""Deepest nesting of parentheses, brackets and braces in a ``when`` expression."""
MAX_WHEN_SYNTAX_DEPTH: Final = 200
"""Deepest parse tree of a ``when`` expression (bounds the evaluator's recursion)."""
