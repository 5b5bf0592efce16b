"""Names zenflow derives: Job names per (flow, step, attempt, shard), and the rules for step
names.

Invariants of ``job_name``:
  * deterministic — the same inputs give the same name (so a restarted controller finds, rather
    than duplicates, the Jobs it created);
  * a valid DNS-1123 label of at most 63 characters (Job names become pod label values);
  * readable ``<flow>-<step>-<attempt>`` (matrix shards: ``<flow>-<step>-<shard>-<attempt>``)
    whenever that fits and is a label; otherwise ``<truncated readable>-<10 hex of sha256>``;
  * injective within one flow: step names are unique and ``attempt``/``shard`` are numbers at the
    end, and the validator rejects a step named ``<matrix step>-<digits>`` which alone could
    make a readable shard name equal another step's name.
Across flows in a namespace, two pairs such as ("a-b", "c") and ("a", "b-c") give the same
readable name; the controller only adopts Jobs owned by its own flow and reports such a clash.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from zenflow.api.limits import MAX_NAME_LENGTH, MAX_STEP_NAME_LENGTH

DNS1123_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
STEP_NAME: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
"""A DNS-1123 label that starts with a letter."""
STEP_NAME_PATTERN: Final = STEP_NAME.pattern
_HASH_LEN: Final = 10


def is_dns1123_label(value: str) -> bool:
    """True for a valid DNS-1123 label (lowercase alphanumerics and '-', ≤ 63 chars)."""
    return len(value) <= MAX_NAME_LENGTH and DNS1123_LABEL.match(value) is not None


def step_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid step name, or None when it is."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_STEP_NAME_LENGTH:
        return f"must be at most {MAX_STEP_NAME_LENGTH} characters (has {len(name)})"
    if STEP_NAME.match(name) is None:
        return (
            "must consist of lowercase letters, digits and '-', start with a letter and end "
            "with a letter or digit (a DNS-1123 label)"
        )
    return None


def job_name(*, flow: str, step: str, attempt: int, shard: int | None = None) -> str:
    """The name of the Job for one attempt (from 1) of one step (and matrix shard) of a flow."""
    if attempt < 0 or (shard is not None and shard < 0):
        raise ValueError("attempt and shard must be non-negative")
    middle = f"{step}-{shard}" if shard is not None else step
    readable = f"{flow}-{middle}-{attempt}"
    if is_dns1123_label(readable):
        return readable
    digest = hashlib.sha256(
        f"{flow}\x00{step}\x00{attempt}\x00{'' if shard is None else shard}".encode()
    ).hexdigest()[:_HASH_LEN]
    prefix = re.sub(r"[^a-z0-9-]", "-", readable.lower())[: MAX_NAME_LENGTH - _HASH_LEN - 1]
    prefix = prefix.strip("-")
    return f"{prefix}-{digest}" if prefix else f"z{digest}"
