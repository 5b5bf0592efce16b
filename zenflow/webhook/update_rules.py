"""What may not change on a JobFlow once it has started: pure rules over (old, new, user).

A running or finished flow's status describes Jobs built from its spec; changing the DAG under
them would make that status a lie. So once a flow has started, the fields that define *what runs*
are frozen (``FROZEN_SPEC_FIELDS``) while the fields that steer *how it runs* stay editable
(``spec.suspend``, ``spec.executionPolicy.ttlSecondsAfterFinished`` / ``activeDeadlineSeconds``,
all of metadata). Approvals are allowed and audited: the webhook cannot mutate the object, so the
approver's identity is what the API server tells us (``userInfo.username``); a client that also
sets the ``approved-by`` annotation must name itself there — on every change of the approvals,
so an approved-by left from an earlier approver never passes for the next one's.

Nothing here does I/O; the admission layer turns the problems into a denial and the audits into
log lines and response warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from zenflow.api.constants import ANNOTATION_APPROVE, ANNOTATION_APPROVED_BY

# spec fields that define the DAG and its inputs. Comparing an absent field with an absent field
# is "unchanged", so listing a field the API does not (yet) have is harmless.
FROZEN_SPEC_FIELDS: Final = (
    "steps",
    "finally",
    "params",
    "env",
    "resourceTemplates",
    "workspaces",
    "templateRef",
)

# Phases in which nothing has run yet: the spec may still be edited freely.
NOT_STARTED_PHASES: Final = frozenset({"", "Pending"})

FROZEN_HINT: Final = "create a new JobFlow or use retry"


@dataclass(frozen=True)
class Approval:
    """An update that sets or changes the approve annotation, and who made it."""

    value: str
    username: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class UpdateCheck:
    """The outcome of the update rules: field-named problems (deny if any), warnings, audits."""

    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    approval: Approval | None = None
    spec_changed: bool = field(default=True)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(obj.get("metadata")).get("annotations"))


def has_started(obj: Mapping[str, Any]) -> bool:
    """True once the controller has started running the flow.

    A flow created suspended reports phase ``Suspended`` before anything ran; it counts as started
    only when its status records a start time.
    """
    status = _mapping(obj.get("status"))
    phase = str(status.get("phase") or "")
    if phase in NOT_STARTED_PHASES:
        return False
    if phase == "Suspended":
        return bool(status.get("startTime") or status.get("startedAt"))
    return True


def check_jobflow_update(
    *,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    username: str,
    groups: tuple[str, ...] = (),
) -> UpdateCheck:
    """Apply the update rules of a JobFlow. ``old`` is the stored object (with its status)."""
    old_spec = _mapping(old.get("spec"))
    new_spec = _mapping(new.get("spec"))
    problems: list[str] = []
    if has_started(old):
        phase = str(_mapping(old.get("status")).get("phase") or "")
        for name in FROZEN_SPEC_FIELDS:
            if old_spec.get(name) != new_spec.get(name):
                problems.append(
                    f"spec.{name}: may not change once the flow has started "
                    f"(phase {phase}); {FROZEN_HINT}"
                )

    warnings: list[str] = []
    approval: Approval | None = None
    old_ann, new_ann = _annotations(old), _annotations(new)
    approve = new_ann.get(ANNOTATION_APPROVE)
    if approve is not None and approve != old_ann.get(ANNOTATION_APPROVE):
        approval = Approval(value=str(approve), username=username, groups=groups)
        warnings.append(
            f"metadata.annotations[{ANNOTATION_APPROVE}]: approval {str(approve)!r} "
            f"by {username or 'an anonymous user'} recorded in the webhook audit log"
        )
    approved_by = new_ann.get(ANNOTATION_APPROVED_BY)
    if (
        approved_by is not None
        and (approved_by != old_ann.get(ANNOTATION_APPROVED_BY) or approval is not None)
        and approved_by != username
    ):
        # Checked on every new approval too: a second approver who leaves the first one's name
        # in place would otherwise be recorded as the first.
        problems.append(
            f"metadata.annotations[{ANNOTATION_APPROVED_BY}]: must name the requesting user "
            f"{username!r}, not {str(approved_by)!r}"
        )
    return UpdateCheck(
        problems=tuple(problems),
        warnings=tuple(warnings),
        approval=approval,
        spec_changed=old_spec != new_spec,
    )
