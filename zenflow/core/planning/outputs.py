"""Output parameters of a finished step: from its container's termination message (a JSON
object, the Kubernetes-native channel Tekton results use) or a JSONPath over its Job.

Values are strings: JSON strings as they are, other JSON values (numbers, lists, objects) in
their JSON form, so ``{{ steps.a.outputs.list }}`` yields ``["x", "y"]``. A step's outputs
are capped at ``MAX_STATUS_OUTPUTS_BYTES`` and a flow's at ``MAX_FLOW_OUTPUTS_BYTES``, both
counted as stored (JSON-escaped), so the status stays compact; outputs past a cap are dropped
and reported on the step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from zenflow.api.jobflow import Step
from zenflow.api.limits import MAX_FLOW_OUTPUTS_BYTES, MAX_STATUS_OUTPUTS_BYTES, MAX_STEP_MESSAGE
from zenflow.api.status import StepStatus

_INDEX: Final = re.compile(r"^(.*)\[(\d+)\]$")


def needs_termination_message(step: Step) -> bool:
    """True when some output of ``step`` comes from the termination message."""
    return any(o.value_from is None or o.value_from.json_path is None for o in step.outputs)


def reads_job(step: Step) -> bool:
    """True when some output of ``step`` is a JSONPath over its Job: read once the Job itself
    is final (an early outcome from an interim condition or the pod does not wait for the
    Job's status, e.g. ``completionTime``, to be written)."""
    return any(
        o.value_from is not None and o.value_from.json_path is not None for o in step.outputs
    )


def extract_outputs(
    *, step: Step, message: str | None, job: Mapping[str, Any]
) -> tuple[dict[str, str], str | None]:
    """The step's outputs and, when some could not be read, why (first problem)."""
    values: dict[str, str] = {}
    problem: str | None = None
    parsed: Mapping[str, Any] | None = None
    size = 0
    if needs_termination_message(step):
        if not message:
            problem = "the container wrote no termination message"
        else:
            try:
                doc = json.loads(message)
            except ValueError:
                problem = "the termination message is not JSON"
            else:
                if isinstance(doc, dict):
                    parsed = doc
                else:
                    problem = "the termination message is not a JSON object"
    for out in step.outputs:
        source = out.value_from
        if source is not None and source.json_path is not None:
            found, value = json_path(job, source.json_path)
        else:
            key = out.name
            if source is not None and source.termination_message is not None:
                key = source.termination_message.key or out.name
            found = parsed is not None and key in parsed
            value = parsed.get(key) if parsed is not None else None
        text = value if isinstance(value, str) else json.dumps(value)
        if found and size + stored_size(out.name, text) > MAX_STATUS_OUTPUTS_BYTES:
            problem = problem or (
                f"output {out.name!r} dropped: a step's outputs are limited to "
                f"{MAX_STATUS_OUTPUTS_BYTES} bytes"
            )
        elif found:
            values[out.name] = text
            size += stored_size(out.name, text)
        elif problem is None:
            problem = f"output {out.name!r} not found"
    return values, (problem[:MAX_STEP_MESSAGE] if problem else None)


def termination_message(pods: Sequence[Mapping[str, Any]], *, job_uid: str) -> str | None:
    """The termination message of the first container of the succeeded pod that ``job_uid``'s
    Job controls ("" when it wrote none); None when there is no such pod. A pod merely
    labelled with the Job's name (anyone may create one) is not read."""
    for pod in pods:
        refs = (pod.get("metadata") or {}).get("ownerReferences") or []
        owned = any(
            isinstance(r, Mapping)
            and r.get("uid") == job_uid
            and r.get("controller") is True
            and r.get("kind") == "Job"
            for r in refs
        )
        status = pod.get("status") or {}
        if not owned or status.get("phase") != "Succeeded":
            continue
        for cs in status.get("containerStatuses") or []:
            terminated = (cs.get("state") or {}).get("terminated") or {}
            message = terminated.get("message")
            if isinstance(message, str):
                return message
        return ""
    return None


def stored_size(name: str, value: str) -> int:
    """Bytes an output takes in the stored status: its name and value as JSON strings."""
    return len(json.dumps(name)) + len(json.dumps(value))


class OutputBudget:
    """The flow-wide cap on outputs (``MAX_FLOW_OUTPUTS_BYTES``): outputs already in the status
    count first; newly read ones are admitted in the order they are asked for while they fit."""

    def __init__(self, steps: Sequence[StepStatus]) -> None:
        self.used = sum(stored_size(k, v) for st in steps for k, v in (st.outputs or {}).items())
        self._admitted: dict[str, bool] = {}

    def admit(
        self, step: str, outputs: Mapping[str, str] | None
    ) -> tuple[Mapping[str, str] | None, str | None]:
        """``outputs`` (newly read for ``step``) and None when they fit, else (None, why)."""
        if not outputs:
            return outputs, None
        if step not in self._admitted:
            size = sum(stored_size(k, v) for k, v in outputs.items())
            fits = self.used + size <= MAX_FLOW_OUTPUTS_BYTES
            if fits:
                self.used += size
            self._admitted[step] = fits
        if self._admitted[step]:
            return outputs, None
        return None, (
            f"outputs dropped: a flow's outputs are limited to {MAX_FLOW_OUTPUTS_BYTES} bytes "
            "in all"
        )


def json_path(obj: Any, path: str) -> tuple[bool, Any]:
    """A kubectl-style JSONPath of plain fields and indexes (``{.status.succeeded}``,
    ``{.spec.template.spec.containers[0].image}``)."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.lstrip("$").lstrip(".")
    current = obj
    for part in filter(None, text.split(".")):
        indexes: list[int] = []
        while (m := _INDEX.match(part)) is not None:
            part = m.group(1)
            indexes.insert(0, int(m.group(2)))
        if part:
            if not isinstance(current, Mapping) or part not in current:
                return False, None
            current = current[part]
        for i in indexes:
            if not isinstance(current, list) or i >= len(current):
                return False, None
            current = current[i]
    return True, current
