"""Which notifications of a JobFlow are due: a pure function of (spec, status, delivered records).

An event is due for a notification that lists it when the status shows it and no record of the
current run (``status.startTime``) says it was delivered or given up:

  Succeeded / Failed  the flow's phase (one notice per run);
  Waiting             each Manual step in phase Waiting (one per step per run);
  StepFailed          each step in phase Failed (one per step per run; Retrying is not failed).

Per-step notices are capped at ``MAX_STEP_NOTICES`` per notification and run, in spec order.
Each notice has a deterministic ``id`` (flow uid, run, key), so a redelivery after a restart
carries the same CloudEvent id, and a deterministic ``time`` (when the status says the event
happened). ``record`` merges new records into the status list, dropping records of older runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zenflow.api.formats import format_time
from zenflow.api.jobflow import JobFlow
from zenflow.api.limits import MAX_STEP_NOTICES
from zenflow.api.notification import Notification, NotificationEvent, NotificationRecord
from zenflow.api.status import JobFlowStatus, StepStatus

__all__ = ["Notice", "due_notices", "notice_text", "record", "run_of"]

EVENT_TYPES: Mapping[NotificationEvent, str] = {
    "Succeeded": "io.zen.workflow.jobflow.succeeded",
    "Failed": "io.zen.workflow.jobflow.failed",
    "Waiting": "io.zen.workflow.jobflow.step.waiting",
    "StepFailed": "io.zen.workflow.jobflow.step.failed",
}


@dataclass(frozen=True)
class Notice:
    """One delivery to make: the notification (sink, retries), what happened, and the event's
    identity and payload."""

    notification: Notification
    event: NotificationEvent
    key: str
    run: str
    id: str
    time: datetime | None
    flow: str
    namespace: str
    uid: str
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    secret_namespace: str = ""
    """Where the sink's Secret lives (the flow's namespace; the defaults' ConfigMap's)."""

    @property
    def type(self) -> str:
        return EVENT_TYPES[self.event]

    @property
    def source(self) -> str:
        return f"/apis/workflow.zen.io/v1alpha1/namespaces/{self.namespace}/jobflows/{self.flow}"


def run_of(status: JobFlowStatus | None) -> str:
    """The current run's identity: its start time (a user retry starts a new run)."""
    if status is None or status.start_time is None:
        return ""
    return format_time(status.start_time)


def due_notices(
    *,
    flow: JobFlow,
    defaults: Sequence[Notification] = (),
    defaults_namespace: str = "",
) -> list[Notice]:
    """The notices not yet delivered (or given up on) for the flow's current status. The flow's
    own ``spec.notifications`` win; without any, ``defaults`` apply (their Secrets live in
    ``defaults_namespace``)."""
    status = flow.status
    if status is None:
        return []
    notifications = list(flow.spec.notifications)
    secret_ns = flow.namespace
    if not notifications:
        notifications, secret_ns = list(defaults), defaults_namespace
    if not notifications:
        return []
    run = run_of(status)
    done = {r.key for r in status.notifications or [] if (r.run or "") == run}
    out: list[Notice] = []
    for notification in notifications:
        for event, step in _events(notification, status, done):
            key = "/".join(x for x in (notification.name, event, step) if x)
            if key in done:
                continue
            out.append(
                Notice(
                    notification=notification,
                    event=event,
                    key=key,
                    run=run,
                    id=_event_id(flow.uid, run, key),
                    time=_event_time(event, status, step),
                    flow=flow.name,
                    namespace=flow.namespace,
                    uid=flow.uid,
                    step=step,
                    data=_payload(event, flow, status, step),
                    secret_namespace=secret_ns,
                )
            )
    return out


def _events(
    notification: Notification, status: JobFlowStatus, done: set[str]
) -> list[tuple[NotificationEvent, str | None]]:
    """The events ``notification`` is due for; per-step ones capped per run: the steps already
    recorded this run (``done``) count towards ``MAX_STEP_NOTICES``."""
    wanted = set(notification.events)
    out: list[tuple[NotificationEvent, str | None]] = []
    per_step: tuple[tuple[NotificationEvent, str], ...] = (
        ("Waiting", "Waiting"),
        ("StepFailed", "Failed"),
    )
    for event, phase in per_step:
        if event in wanted:
            prefix = f"{notification.name}/{event}/"
            room = MAX_STEP_NOTICES - sum(1 for key in done if key.startswith(prefix))
            steps = [s.name for s in status.steps or [] if s.phase == phase]
            fresh = [name for name in steps if prefix + name not in done]
            out.extend((event, name) for name in fresh[: max(room, 0)])
    flow_events: tuple[NotificationEvent, ...] = ("Succeeded", "Failed")
    for event in flow_events:
        if status.phase == event and event in wanted:
            out.append((event, None))
    return out


def _event_id(uid: str, run: str, key: str) -> str:
    return hashlib.sha256(f"{uid}\x00{run}\x00{key}".encode()).hexdigest()[:32]


def _step(status: JobFlowStatus, name: str | None) -> StepStatus | None:
    return next((s for s in status.steps or [] if s.name == name), None)


def _event_time(
    event: NotificationEvent, status: JobFlowStatus, step: str | None
) -> datetime | None:
    if step is None:
        return status.completion_time
    st = _step(status, step)
    if st is None:
        return None
    return st.start_time if event == "Waiting" else st.completion_time


def _payload(
    event: NotificationEvent, flow: JobFlow, status: JobFlowStatus, step: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event": event,
        "flow": flow.name,
        "namespace": flow.namespace,
        "uid": flow.uid,
        "phase": status.phase,
        "progress": status.progress,
    }
    if step is None:
        data["reason"] = status.reason
        data["message"] = status.message
    else:
        st = _step(status, step)
        if st is not None:
            data["step"] = st.dump()
    return {k: v for k, v in data.items() if v is not None}


def notice_text(notice: Notice) -> str:
    """One line for humans (the Slack body's text)."""
    where = f"JobFlow {notice.namespace}/{notice.flow}"
    step = notice.data.get("step") or {}
    detail = step.get("message") or notice.data.get("message") or ""
    if notice.event == "Succeeded":
        head = f"{where} succeeded ({notice.data.get('progress') or 'done'})"
    elif notice.event == "Failed":
        head = f"{where} failed: {notice.data.get('reason') or 'Failed'}"
    elif notice.event == "Waiting":
        head = f"{where}: step {notice.step} is waiting for approval"
    else:
        head = f"{where}: step {notice.step} failed ({step.get('reason') or 'Failed'})"
    return f"{head}: {detail}" if detail else head


def record(
    existing: Sequence[NotificationRecord] | None,
    new: Sequence[NotificationRecord],
    *,
    run: str,
) -> list[NotificationRecord]:
    """The status list after adding ``new``: records of other runs are dropped, one record per
    key (the newest wins)."""
    by_key: dict[str, NotificationRecord] = {}
    for rec in (*(existing or ()), *new):
        if (rec.run or "") == run:
            by_key[rec.key] = rec
    return list(by_key.values())
