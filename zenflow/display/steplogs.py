"""Where a JobFlow's step logs are, in which order they are shown, and how they are labelled.

Pure: from the flow, its Jobs and their pods (raw API dicts) ``step_logs`` decides, for each
step in DAG order (the regular steps level by level, then the ``finally`` steps), which pod
containers hold the log of the asked attempt (default: each step's, or each matrix shard's,
current attempt) or, when there is none, a note saying why: no pod yet, skipped, a Manual step,
or pods already deleted. Reading the logs is ``logreader``'s job.

Invariants: only Jobs whose controller owner is the flow (by uid) and pods controlled by those
Jobs count, so a same-named older flow's leftovers never show; sources keep pod creation order
and, within a pod, init containers before containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from zenflow.core.dag import Dag
from zenflow.core.observed import JobRecord, job_record

RESET: Final = "\x1b[0m"
# Step label colours, by the step's position in the shown order.
PALETTE: Final = ("\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[91m")
JOB_UID_LABELS: Final = ("batch.kubernetes.io/controller-uid", "controller-uid")

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LogSource:
    """One container whose log belongs to a step attempt."""

    step: str
    shard: int | None
    attempt: int
    pod: str
    container: str
    label: str
    """``step``, ``step/shard``, plus `` container`` when the pod has several."""
    started: bool
    """The container has started: the node has a log for it."""
    running: bool


@dataclass(frozen=True, slots=True)
class StepLogs:
    """A step's log sources in the shown order, or why it has none (``note``)."""

    step: str
    phase: str
    sources: tuple[LogSource, ...]
    note: str | None = None


def _dict(value: object) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _order(steps: Sequence[Obj]) -> list[str]:
    names = [str(s.get("name", "")) for s in steps]
    deps = {str(s.get("name", "")): [str(d) for d in _list(s.get("dependencies"))] for s in steps}
    dag = Dag.from_edges(names, deps)
    try:
        return [name for level in dag.levels() for name in level]
    except ValueError:  # a cycle (the validator reports it): spec order
        return list(dag.nodes)


def step_order(flow: Obj) -> list[str]:
    """Regular steps in DAG order (level by level, spec order within a level), then finally."""
    spec = _dict(flow.get("spec"))
    regular = [_dict(s) for s in _list(spec.get("steps"))]
    final = [_dict(s) for s in _list(spec.get("finally"))]
    return _order(regular) + [n for n in _order(final) if n not in {s.get("name") for s in regular}]


def _uid(obj: Obj) -> str:
    return str(_dict(obj.get("metadata")).get("uid", ""))


def _containers(pod: Obj) -> list[tuple[str, Obj]]:
    """(name, status) of the pod's init containers, then containers."""
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    statuses = {
        str(s.get("name")): _dict(s)
        for key in ("initContainerStatuses", "containerStatuses")
        for s in _list(status.get(key))
        if isinstance(s, Mapping)
    }
    names = [
        str(c.get("name"))
        for key in ("initContainers", "containers")
        for c in _list(spec.get(key))
        if isinstance(c, Mapping) and c.get("name")
    ]
    return [(name, statuses.get(name, {})) for name in names]


def _state(status: Obj) -> tuple[bool, bool]:
    """(started, running) of a container status."""
    state = _dict(status.get("state"))
    if "running" in state:
        return True, True
    terminated = _dict(state.get("terminated"))
    last = _dict(_dict(status.get("lastState")).get("terminated"))
    return bool(terminated.get("startedAt") or last.get("startedAt")), False


def _created(obj: Obj) -> tuple[str, str]:
    meta = _dict(obj.get("metadata"))
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _sources(record: JobRecord, pods: Iterable[Obj]) -> list[LogSource]:
    out = []
    for pod in sorted(pods, key=_created):
        containers = _containers(pod)
        base = record.step if record.shard is None else f"{record.step}/{record.shard}"
        for name, status in containers:
            started, running = _state(status)
            out.append(
                LogSource(
                    step=record.step,
                    shard=record.shard,
                    attempt=record.attempt,
                    pod=str(_dict(pod.get("metadata")).get("name", "")),
                    container=name,
                    label=f"{base} {name}" if len(containers) > 1 else base,
                    started=started,
                    running=running,
                )
            )
    return out


def _wanted_attempts(status: Obj, attempt: int | None) -> dict[int | None, int]:
    """Shard (None for the step itself) → the attempt to show."""
    shards = [_dict(s) for s in _list(status.get("shards"))]
    if shards:
        return {
            int(s.get("index", i)): attempt or int(s.get("attempt") or 1)
            for i, s in enumerate(shards)
        }
    current = status.get("attempt")
    return {None: attempt or (current if isinstance(current, int) else 0)}


def step_logs(
    flow: Obj,
    jobs: Iterable[Obj],
    pods: Iterable[Obj],
    *,
    step: str | None = None,
    attempt: int | None = None,
) -> list[StepLogs]:
    """Every step's (or only ``step``'s) log sources for ``attempt`` (default: current)."""
    flow_uid = _uid(flow)
    records: dict[str, list[tuple[JobRecord, str]]] = {}
    for job in jobs:
        record = job_record(job, flow_uid=flow_uid)
        if record is not None and record.owned:
            records.setdefault(record.step, []).append((record, _uid(job)))
    pods_by_job: dict[str, list[Obj]] = {}
    for pod in pods:
        labels = _dict(_dict(pod.get("metadata")).get("labels"))
        job_uid = next((str(labels[k]) for k in JOB_UID_LABELS if labels.get(k)), "")
        pods_by_job.setdefault(job_uid, []).append(pod)
    spec = _dict(flow.get("spec"))
    declared = {
        str(_dict(s).get("name")): _dict(s)
        for s in [*_list(spec.get("steps")), *_list(spec.get("finally"))]
    }
    statuses = {
        str(_dict(s).get("name")): _dict(s) for s in _list(_dict(flow.get("status")).get("steps"))
    }
    names = [n for n in step_order(flow) if step is None or n == step]
    return [
        _one(
            name,
            declared.get(name, {}),
            statuses.get(name, {}),
            records.get(name, []),
            pods_by_job,
            attempt,
        )
        for name in names
    ]


GONE: Final = (
    "its pods were deleted (with their Job, by a TTL or the garbage collector): the log is gone"
)


def _one(
    name: str,
    declared: Obj,
    status: Obj,
    records: list[tuple[JobRecord, str]],
    pods_by_job: Mapping[str, list[Obj]],
    attempt: int | None,
) -> StepLogs:
    phase = str(status.get("phase") or "Pending")
    message = str(status.get("message") or "")
    if declared.get("type") == "Manual":
        return StepLogs(name, phase, (), "a Manual step: it runs no pod")
    if phase == "Skipped":
        return StepLogs(name, phase, (), f"skipped: {message}" if message else "skipped")
    wanted = _wanted_attempts(status, attempt)
    sources: list[LogSource] = []
    unfinished = False  # a Job of the asked attempt has no pod yet
    for shard, number in sorted(wanted.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        matching = [
            (record, uid)
            for record, uid in records
            if (record.attempt == number or number == 0)
            and (shard is None or record.shard == shard)
        ]
        for record, uid in matching:
            found = _sources(record, pods_by_job.get(uid, []))
            sources += found
            unfinished = unfinished or (not found and record.phase == "Running")
    if sources:
        return StepLogs(name, phase, tuple(sources))
    recorded = status.get("attempt")
    current = recorded if isinstance(recorded, int) else 0
    if attempt is not None and attempt > max(current, *(r.attempt for r, _ in records), 0):
        return StepLogs(name, phase, (), f"no attempt {attempt}: the step is at attempt {current}")
    if unfinished or phase in ("Pending", "Running"):
        why = f" ({message})" if message and phase == "Pending" else ""
        return StepLogs(name, phase, (), f"no pod yet: the step is {phase}{why}")
    return StepLogs(name, phase, (), GONE)


def color_of(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def prefix(label: str, *, width: int, color: str | None) -> str:
    """``label`` padded to ``width`` and a separator, coloured when ``color`` is given."""
    text = label.ljust(width)
    return f"{color}{text}{RESET} | " if color else f"{text} | "
