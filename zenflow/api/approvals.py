"""The approvals annotation: every decision on a Manual step, each naming who made it.

``workflow.zen.io/approvals`` holds a JSON list, oldest first, appended to and never rewritten::

    [{"step": "gate", "user": "alice", "time": "2026-11-29T21:00:00Z", "decision": "approve"},
     {"step": "gate", "user": "bob", "time": "…", "decision": "reject", "reason": "not today"}]

``kubectl jobflow approve|reject`` (and the SDK) append an entry naming the requester as the API
server knows them (SelfSubjectReview); the admission webhook refuses an entry that names anyone
else, repeats an approver, or comes from someone the step's approval policy does not allow; the
controller records the decisions per step in ``status.steps[].approvals``. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import Field, TypeAdapter, ValidationError

from zenflow.api.common import ApiModel, Time
from zenflow.api.constants import ANNOTATION_APPROVALS

Decision = Literal["approve", "reject"]
MAX_ENTRIES: Final = 100
"""Most entries the annotation may hold (it is part of a 256 KiB annotation budget)."""
MAX_REASON_LENGTH: Final = 256


class ApprovalEntry(ApiModel):
    """One decision on one Manual step."""

    step: str = Field(max_length=63)
    user: str = Field(min_length=1, max_length=253)
    time: Time
    decision: Decision = "approve"
    reason: str | None = Field(default=None, max_length=MAX_REASON_LENGTH)


_ENTRIES = TypeAdapter(list[ApprovalEntry])


class ApprovalsError(ValueError):
    """The annotation is not a list of entries; the message says what is wrong."""


def parse_entries(text: str | None) -> list[ApprovalEntry]:
    """The entries of the annotation value (None or "" → none); raises ``ApprovalsError``."""
    if not text:
        return []
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ApprovalsError(f"not JSON: {exc}") from None
    if not isinstance(raw, list):
        raise ApprovalsError("must be a JSON list of {step, user, time, decision, reason}")
    if len(raw) > MAX_ENTRIES:
        raise ApprovalsError(f"holds {len(raw)} entries; at most {MAX_ENTRIES} are allowed")
    try:
        return _ENTRIES.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        index, *field = first["loc"] or ("?",)
        where = f"[{index}]" + "".join(f".{f}" for f in field)
        raise ApprovalsError(f"entry {where}: {first['msg']}") from None


def entries_of(obj: Mapping[str, Any]) -> list[ApprovalEntry]:
    """The entries on an object; a malformed annotation counts as none (the webhook refuses
    it; the controller must not fail on it)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        return parse_entries(annotations.get(ANNOTATION_APPROVALS))
    except ApprovalsError:
        return []


def dump_entries(entries: list[ApprovalEntry]) -> str:
    """The annotation value: compact JSON, one object per entry, oldest first."""
    return json.dumps([e.dump() for e in entries], separators=(",", ":"))


def new_entry(
    *, step: str, user: str, now: datetime, decision: Decision = "approve", reason: str | None
) -> ApprovalEntry:
    return ApprovalEntry(step=step, user=user, time=now, decision=decision, reason=reason)
