"""Size limits of the API, chosen so a flow's status stays far below the 1.5 MiB object limit.

Budget: a step status is a few short fields (name, phase, two timestamps, job name, retry count,
a message capped at MAX_STEP_MESSAGE chars, outputs capped at MAX_STATUS_OUTPUTS_BYTES), about
200-300 bytes in the common case. 1,000 steps + 20 finally steps x ~300 B = ~300 KiB, plus the
spec (<= MAX_SPEC_BYTES = 256 KiB) stored in the same object: ~560 KiB worst-typical, under 40 %
of the 1.5 MiB etcd request limit. Matrix shards add a compact entry each (MAX_MATRIX_SHARDS).
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
MAX_STATUS_OUTPUTS_BYTES: Final = 4096
"""Largest total size of one step's output values kept in status."""
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
