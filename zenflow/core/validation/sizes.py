"""What a flow may make the controller create and store, checked before anything runs.

- ``spec_json``: the spec's JSON when it nests at most ``MAX_SPEC_DEPTH`` levels; otherwise an
  error naming the first path that goes deeper, and nothing else is checked (deeper objects
  would exhaust the recursion of the serializers and copies downstream).
- ``check_budget``: Jobs per run (``MAX_JOBS_PER_FLOW``: one per Job step, one per matrix shard,
  ``MAX_MATRIX_SHARDS`` for a matrix over an output), the status's size as estimated from the
  spec with every field at its maximum (``MAX_STATUS_BYTES``), and the size of each Job a step
  renders with every ``{{ }}`` at the largest value it can take (``MAX_RENDERED_JOB_BYTES``).

Invariants: every estimate is an upper bound of what the controller can produce (the status
model's own dump of a maximal entry, a param's actual value, an output at its cap); the common
case costs a few whole-text operations, per-step work happens only when a flow-wide bound fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from math import prod
from typing import Any, Final

import orjson
import pydantic_core

from zenflow.api import limits
from zenflow.api.approvals import MAX_ENTRIES as MAX_APPROVAL_ENTRIES
from zenflow.api.approvals import ApprovalEntry
from zenflow.api.artifact import MAX_ARTIFACT_NAME_LENGTH, ArtifactRecord
from zenflow.api.common import Condition
from zenflow.api.formats import clip, format_time
from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.api.notification import NotificationRecord
from zenflow.api.status import ApprovalRecord, JobFlowStatus, ShardStatus, StepStatus
from zenflow.boundedjson import json_depth
from zenflow.core import templating
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.texts import StepTexts

_T: Final = datetime(2000, 1, 1, tzinfo=UTC)
_LONGEST_REASON: Final = 32
_CLIPPED: Final = clip("m" * (limits.MAX_STEP_MESSAGE + 1))
"""The longest message ``clip`` leaves (its ellipsis takes 3 bytes)."""


def _dumped(model: Any) -> int:
    return len(model.model_dump_json(by_alias=True, exclude_none=True).encode()) + 1


STEP_ENTRY_BYTES: Final = _dumped(
    StepStatus(
        name="",
        phase="Succeeded",
        reason="R" * _LONGEST_REASON,
        message="m" * limits.MAX_STEP_MESSAGE,
        start_time=_T,
        completion_time=_T,
        job_ref="j" * limits.MAX_NAME_LENGTH,
        attempt=limits.MAX_RETRY_LIMIT + 1,
        retry_count=limits.MAX_RETRY_LIMIT,
        next_retry_time=_T,
    )
)
"""A step's status entry with every field at its maximum, but its name, outputs and shards."""
APPROVER_BYTES: Final = len(',"approvedBy":""') + 253
_LONGEST_USER: Final[int] = next(
    m.max_length for m in ApprovalEntry.model_fields["user"].metadata if hasattr(m, "max_length")
)
APPROVAL_RECORD_BYTES: Final = _dumped(
    ApprovalRecord(
        user="u" * _LONGEST_USER,
        time=_T,
        decision="Rejected",
        reason=_CLIPPED,
    )
)
"""One entry of a Manual step's ``approvals``: one per (user, decision) among the annotation's
entries for the step, so at most ``approvals.MAX_ENTRIES`` in a flow (nothing bounds them per
step below that: a decision may land before the controller records the step's end, and without
the webhook nothing refuses one)."""
NOTIFICATION_RECORD_BYTES: Final = _dumped(
    NotificationRecord(
        key="/".join(
            ["n" * limits.MAX_STEP_NAME_LENGTH, "StepFailed", "s" * limits.MAX_STEP_NAME_LENGTH]
        ),
        run=format_time(_T),
        state="Delivered",
        time=_T,
        attempts=limits.MAX_NOTIFICATION_RETRIES + 1,
        message=_CLIPPED,
    )
)
"""One delivery record in ``status.notifications`` (records of earlier runs are dropped)."""
SHARD_ENTRY_BYTES: Final = _dumped(
    ShardStatus(
        index=limits.MAX_MATRIX_SHARDS,
        phase="Succeeded",
        job_ref="j" * limits.MAX_NAME_LENGTH,
        attempt=limits.MAX_RETRY_LIMIT + 1,
        retry_count=limits.MAX_RETRY_LIMIT,
        message="m" * limits.MAX_SHARD_MESSAGE,
    )
)
OUTPUT_ENTRY_BYTES: Final = len(',"":""')
ARTIFACT_ENTRY_BYTES: Final = _dumped(
    ArtifactRecord(name="a" * MAX_ARTIFACT_NAME_LENGTH, size=2**63 - 1, digest="sha256:" + "0" * 64)
)
"""One recorded output artifact of a step (``status.steps[].artifacts``)."""
FLOW_STATUS_BYTES: Final = _dumped(
    JobFlowStatus(
        phase="Succeeded",
        reason="R" * _LONGEST_REASON,
        message="m" * limits.MAX_STEP_MESSAGE,
        start_time=_T,
        completion_time=_T,
        observed_generation=2**62,
        progress="1020/1020",
        total=1020,
        completed=1020,
        succeeded=1020,
        failed=1020,
        skipped=1020,
        running=1020,
        retries=100_000,
        retry_nonce="n" * 64,
        conditions=[
            Condition(
                type="T" * 16,
                status="Unknown",
                reason="R" * _LONGEST_REASON,
                message="m" * limits.MAX_STEP_MESSAGE,
                last_transition_time=_T,
                observed_generation=2**62,
            )
        ]
        * 6,
    )
)
"""Everything of a status but its steps, at its maximum."""
JOB_OVERHEAD_BYTES: Final = 4096
"""What zenflow adds to each Job besides the template: name, labels on the Job and its pod
template, annotations, owner reference, defaults."""

_FLOW_FIELDS: Final = {"name": 253, "namespace": 63, "uid": 36}
_STEP_FIELDS: Final = {"name": limits.MAX_STEP_NAME_LENGTH, "attempt": 3}


def spec_json(raw: object, *, path: str, out: Collector) -> bytes | None:
    """The compact JSON of ``raw`` (a spec as received) when it nests at most
    ``MAX_SPEC_DEPTH`` levels; else None, after an error naming where it goes deeper."""
    limit = limits.MAX_SPEC_DEPTH
    try:
        data = compact_json(raw)
    except Exception:  # the serializers' own depth limits (~255 levels), or keys they cannot write
        data = None
    if data is not None and json_depth(data, limit=limit) <= limit:
        return data
    where = too_deep(raw, path=path, limit=limit)
    if where is None:
        out.error(path, "cannot be read as JSON (keys must be strings)")
    else:
        out.error(
            where,
            f"nests more than {limit} levels deep (counting from {path}); Kubernetes objects "
            "nest about 20",
        )
    return None


def compact_json(raw: object) -> bytes:
    """``raw`` (a spec as received) as compact JSON, values JSON has no type for as their
    ``str``: by orjson (a 1,000-step spec in ~0.2 ms, a third of pydantic-core's time), or by
    pydantic-core for what orjson refuses (integers past 64 bits, non-string keys); either
    raises past its own nesting limit."""
    try:
        return orjson.dumps(raw, default=str)
    except orjson.JSONEncodeError:
        return pydantic_core.to_json(raw, fallback=str)


def too_deep(tree: object, *, path: str, limit: int) -> str | None:
    """The field path of the first container nested deeper than ``limit`` levels (``tree``
    itself is level 1), found without recursion; None when there is none."""
    stack: list[tuple[object, int, str]] = [(tree, 1, path)]
    while stack:
        node, depth, where = stack.pop()
        if not isinstance(node, Mapping | list):
            continue
        if depth > limit:
            return where
        if isinstance(node, Mapping):
            children: Iterator[tuple[str, object]] = (
                (f"{where}.{key}", value) for key, value in node.items()
            )
        else:
            children = ((f"{where}[{i}]", value) for i, value in enumerate(node))
        stack.extend(
            (child, depth + 1, at)
            for at, child in reversed(list(children))
            if isinstance(child, Mapping | list)
        )
    return None


def planned_jobs(step: Step) -> int:
    """Jobs one run of ``step`` creates (before retries)."""
    if step.type == "Manual":
        return 0
    matrix = step.matrix
    if matrix is None:
        return 1
    if matrix.from_:
        return limits.MAX_MATRIX_SHARDS
    return prod(len(v) for v in matrix.values.values()) if matrix.values else 0


def status_estimate(spec: JobFlowSpec) -> int:
    """The most bytes the flow's status can take (see ``limits``)."""
    total = FLOW_STATUS_BYTES + len(',"steps":[]')
    with_outputs = 0
    records = 0
    for step in spec.all_steps():
        total += STEP_ENTRY_BYTES + len(step.name)
        if step.type == "Manual":
            total += APPROVER_BYTES + len(',"approvals":[]')
            records = MAX_APPROVAL_ENTRIES
        if step.matrix is not None:
            total += len(',"shards":[]') + planned_jobs(step) * SHARD_ENTRY_BYTES
        if step.outputs:
            total += len(',"outputs":{}') + OUTPUT_ENTRY_BYTES * len(step.outputs)
            with_outputs += 1
        if step.artifacts is not None and step.artifacts.outputs:
            total += len(',"artifacts":[]') + ARTIFACT_ENTRY_BYTES * len(step.artifacts.outputs)
    total += records * APPROVAL_RECORD_BYTES + notification_records(spec) * (
        NOTIFICATION_RECORD_BYTES
    )
    return total + min(
        with_outputs * limits.MAX_STATUS_OUTPUTS_BYTES, limits.MAX_FLOW_OUTPUTS_BYTES
    )


def notification_records(spec: JobFlowSpec) -> int:
    """The most ``status.notifications`` records one run of the flow keeps for its own
    notifications: per notification, one for each flow event it lists (Succeeded, Failed) and
    up to ``MAX_STEP_NOTICES`` for each per-step event (Waiting: the Manual steps; StepFailed:
    any step). The controller-wide defaults (used when the spec names none) are not known
    here: a status they push over the limit is the StatusTooLarge fallback's."""
    steps = spec.all_steps()
    manual = sum(1 for s in steps if s.type == "Manual")
    per_event = {
        "Succeeded": 1,
        "Failed": 1,
        "Waiting": min(manual, limits.MAX_STEP_NOTICES),
        "StepFailed": min(len(steps), limits.MAX_STEP_NOTICES),
    }
    return sum(per_event[e] for n in spec.notifications for e in set(n.events))


def check_budget(
    spec: JobFlowSpec, *, path: str, text: str, texts: StepTexts, out: Collector
) -> None:
    """Jobs per run, status size and each rendered Job within their limits."""
    located = [*(("steps", i, s) for i, s in enumerate(spec.steps))]
    located += [("finally", i, s) for i, s in enumerate(spec.finally_)]
    jobs = {(section, i): planned_jobs(s) for section, i, s in located if s.matrix is not None}
    total_jobs = sum(jobs.values()) + sum(
        1 for _, _, s in located if s.matrix is None and s.type != "Manual"
    )
    if total_jobs > limits.MAX_JOBS_PER_FLOW:
        out.error(
            f"{path}.steps",
            f"one run of the flow creates up to {total_jobs} Jobs (a Job per step, one per "
            f"matrix shard, {limits.MAX_MATRIX_SHARDS} for a matrix over an output); at most "
            f"{limits.MAX_JOBS_PER_FLOW} are allowed{_largest(path, jobs, 'Jobs')}",
        )
    estimate = status_estimate(spec)
    if estimate > limits.MAX_STATUS_BYTES:
        shards = {
            key: n * SHARD_ENTRY_BYTES // 1024 for key, n in jobs.items() if n * SHARD_ENTRY_BYTES
        }
        out.error(
            f"{path}.steps",
            f"the flow's status can grow to {estimate // 1024} KiB; at most "
            f"{limits.MAX_STATUS_BYTES // 1024} KiB are allowed, so the flow stays within the "
            f"API server's object size limit{_largest(path, shards, 'KiB')}",
        )
    _check_rendered(spec, located, path=path, text=text, texts=texts, out=out)


def _largest(path: str, sizes: Mapping[tuple[str, int], int], unit: str) -> str:
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    if not top:
        return ""
    named = ", ".join(f"{path}.{section}[{i}] {n} {unit}" for (section, i), n in top)
    return f" (largest: {named})"


class _Values:
    """The largest escaped length each kind of reference can substitute."""

    def __init__(self, spec: JobFlowSpec) -> None:
        self.params = {name: _escaped(value) for name, value in spec.param_values().items()}
        self._growth: dict[templating.Reference, int] = {}

    def growth_of(self, refs: list[templating.Reference], step: Step) -> int:
        """How much substituting ``refs`` (each occurrence listed) can grow ``step``'s text."""
        total = 0
        for ref in refs:
            if ref.root == "matrix":
                total += self.largest(ref, step) - len(ref.text)
                continue
            grows = self._growth.get(ref)
            if grows is None:
                grows = self._growth[ref] = self.largest(ref, None) - len(ref.text)
            total += grows
        return total

    def largest(self, ref: templating.Reference, step: Step | None) -> int:
        root, parts = ref.root, ref.parts
        if root == "params":
            return self.params.get(parts[0], 0)
        if root == "flow":
            return _FLOW_FIELDS.get(parts[0], 0)
        if root == "step":
            return _STEP_FIELDS.get(parts[0], 0)
        if root == "steps":
            return 9 if parts[1] == "phase" else limits.MAX_STATUS_OUTPUTS_BYTES
        matrix = step.matrix if step is not None else None
        if matrix is not None and matrix.values and parts[0] in matrix.values:
            return max((_escaped(str(v)) for v in matrix.values[parts[0]]), default=0)
        return limits.MAX_STATUS_OUTPUTS_BYTES

    def growth(self, refs: list[tuple[templating.Reference, int]], step: Step | None) -> int:
        return sum(count * (self.largest(r, step) - len(r.text)) for r, count in refs)


def _escaped(text: str) -> int:
    return len(json.dumps(text)) - 2


def _counted(refs: list[templating.Reference]) -> list[tuple[templating.Reference, int]]:
    counts: dict[templating.Reference, int] = {}
    for ref in refs:
        counts[ref] = counts.get(ref, 0) + 1
    return list(counts.items())


def _check_rendered(
    spec: JobFlowSpec,
    located: list[tuple[str, int, Step]],
    *,
    path: str,
    text: str,
    texts: StepTexts,
    out: Collector,
) -> None:
    values = _Values(spec)
    policy = spec.execution_policy.pod_failure_policy
    overhead = JOB_OVERHEAD_BYTES + (len(pydantic_core.to_json(policy)) if policy else 0)
    whole = len(text) + values.growth(templating.reference_counts(text), None)
    env = _rendered_json(spec.env, values) if spec.env else 0
    copied = env or any(s.inputs or s.metadata for _, _, s in located)
    if not copied and whole + overhead <= limits.MAX_RENDERED_JOB_BYTES:
        return  # no step's Job can be larger than the whole spec rendered
    for section, i, step in located:
        if step.type == "Manual":
            continue
        extra, copies, inputs = overhead, 1, 0
        if copied:
            copies = _containers(step)
            if step.inputs:
                inputs = _rendered_json([i.model_dump() for i in step.inputs], values, step)
            meta = len(step.metadata.model_dump_json()) if step.metadata else 0
            extra += meta + copies * (env + inputs)
            if whole + extra <= limits.MAX_RENDERED_JOB_BYTES:
                continue
        own = texts.of(section, i, step)
        size = len(own.data) + values.growth_of(own.refs, step) + extra
        if size <= limits.MAX_RENDERED_JOB_BYTES:
            continue
        out.error(
            f"{path}.{section}[{i}]",
            f"the Job this step renders can reach {size:,} bytes; at most "
            f"{limits.MAX_RENDERED_JOB_BYTES:,} are allowed"
            + _why(_counted(own.refs), values, step, copies=copies, env=env, inputs=inputs),
        )


def _why(
    counted: list[tuple[templating.Reference, int]],
    values: _Values,
    step: Step,
    *,
    copies: int,
    env: int,
    inputs: int,
) -> str:
    """The largest contributor, in words."""
    parts = [
        (
            count * values.largest(ref, step),
            f"{ref.text} ({values.largest(ref, step):,} bytes) "
            f"appears {count} time{'s' if count > 1 else ''}",
        )
        for ref, count in counted
    ]
    if copies * env:
        parts.append((copies * env, f"spec.env ({env:,} bytes) is copied into {copies} containers"))
    if copies * inputs:
        parts.append(
            (copies * inputs, f"inputs ({inputs:,} bytes) are copied into {copies} containers")
        )
    return f": {max(parts)[1]}" if parts else ""


def _rendered_json(tree: Any, values: _Values, step: Step | None = None) -> int:
    data = pydantic_core.to_json(tree, fallback=str)
    return len(data) + values.growth(templating.reference_counts(data.decode()), step)


def _containers(step: Step) -> int:
    """Containers of the step's Job (each gets spec.env and the inputs)."""
    if step.template is None:
        return 1
    spec = step.template.get("spec")
    pod = spec.get("template") if isinstance(spec, Mapping) else None
    pod_spec = pod.get("spec") if isinstance(pod, Mapping) else None
    containers = pod_spec.get("containers") if isinstance(pod_spec, Mapping) else None
    return len(containers) if isinstance(containers, list) else 1
