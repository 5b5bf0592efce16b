"""The approvals annotation codec and the approve/reject patch (pure).

Aspects: entries round-trip through the compact JSON; malformed values name the entry and field;
a patch appends the requester's decision to what is recorded and carries the resourceVersion; a
step that is not Manual (or not in the flow) and a rejection without a reason are refused; a
malformed stored annotation reads as no entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zenflow.api.actions import ActionError, decision_patch
from zenflow.api.approvals import (
    MAX_ENTRIES,
    ApprovalsError,
    dump_entries,
    entries_of,
    new_entry,
    parse_entries,
)
from zenflow.api.constants import ANNOTATION_APPROVALS

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def flow(annotation: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "rel", "resourceVersion": "42"}
    if annotation is not None:
        meta["annotations"] = {ANNOTATION_APPROVALS: annotation}
    return {
        "metadata": meta,
        "spec": {"steps": [{"name": "gate", "type": "Manual"}, {"name": "job"}]},
    }


def test_round_trip_and_append() -> None:
    first = new_entry(step="gate", user="alice", now=NOW, reason=None)
    text = dump_entries([first])
    assert (
        text
        == '[{"step":"gate","user":"alice","time":"2026-01-01T12:00:00Z","decision":"approve"}]'
    )
    assert parse_entries(text) == [first]
    patch = decision_patch(flow(text), "gate", user="bob", now=NOW, decision="reject", reason="no")
    assert patch["metadata"]["resourceVersion"] == "42"
    entries = parse_entries(patch["metadata"]["annotations"][ANNOTATION_APPROVALS])
    assert [(e.user, e.decision, e.reason) for e in entries] == [
        ("alice", "approve", None),
        ("bob", "reject", "no"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("nope", "not JSON: ", id="not-json"),
        pytest.param("{}", "must be a JSON list", id="not-a-list"),
        pytest.param('[{"step": "g", "user": "", "time": "2026-01-01T00:00:00Z"}]',
                     "entry [0].user: String should have at least 1 character", id="empty-user"),
        pytest.param("[" + ",".join(["{}"] * (MAX_ENTRIES + 1)) + "]",
                     f"at most {MAX_ENTRIES} are allowed", id="too-many"),
    ],
)  # fmt: skip
def test_malformed_values_are_named(text: str, message: str) -> None:
    with pytest.raises(ApprovalsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_entries(text)
    assert entries_of(flow(text)) == []


@pytest.mark.parametrize(
    ("step", "reason", "decision", "message"),
    [
        pytest.param("job", None, "approve", "'job' is not a Manual step of it", id="not-manual"),
        pytest.param("nope", None, "approve", "'nope' is not a step of it", id="unknown"),
        pytest.param("gate", " ", "reject", "a rejection needs a reason", id="no-reason"),
    ],
)
def test_refused_decisions(step: str, reason: str | None, decision: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        decision_patch(flow(), step, user="u", now=NOW, decision=decision, reason=reason)  # type: ignore[arg-type]
