"""Build the batch/v1 Job manifest of one step attempt.

From the step's ``template`` (or its ``run`` shorthand) the Job gets:
  * a deterministic name (``naming.job_name``), the flow's namespace, a controller owner
    reference to the flow (blockOwnerDeletion), so deleting the flow cascades;
  * labels ``jobflow=<flow>``, ``workflow.zen.io/{jobflow,step,attempt}``,
    ``app.kubernetes.io/managed-by=zenflow`` and the step's metadata labels, on the Job and on
    its pod template; the step's metadata annotations likewise, plus the retry count;
  * ``{{ }}`` references substituted in every string of the template;
  * ``spec.env`` then the step's ``inputs`` appended to every container's env;
  * ``spec.backoffLimit`` 0 unless the template sets it: zenflow retries by creating a new Job
    per attempt, so the Job itself should not retry pods behind the retry policy's back;
  * ``activeDeadlineSeconds`` = ``timeoutSeconds`` (per attempt), the flow's
    ``podFailurePolicy`` unless the template has one, and ``restartPolicy: Never`` by default.
  * the step's workspaces as volumes and mounts of every container, input artifacts' paths as
    ``ZENFLOW_ARTIFACT_<NAME>`` (``workspaces``), and with output artifacts the first container's
    command under the reporting wrapper (``artifacts``).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zenflow.api.constants import (
    API_VERSION,
    JOBFLOW_KIND,
    LABEL_ATTEMPT,
    LABEL_JOBFLOW,
    LABEL_JOBFLOW_SHORT,
    LABEL_MANAGED_BY,
    LABEL_STEP,
    MANAGED_BY_VALUE,
)
from zenflow.api.jobflow import JobFlow, Step
from zenflow.api.limits import MAX_NAME_LENGTH
from zenflow.api.naming import job_name
from zenflow.core.observed import ANNOTATION_RETRY_COUNT, LABEL_SHARD
from zenflow.core.planning.artifacts import wrap_for_artifacts
from zenflow.core.planning.workspaces import mount_workspaces
from zenflow.core.templating import TemplateContext, render

RUN_CONTAINER_NAME = "main"


@dataclass(frozen=True, slots=True)
class JobCreate:
    """A Job to create for ``attempt`` of ``step`` (the planner's output)."""

    step: str
    attempt: int
    manifest: dict[str, Any]


def label_value(text: str) -> str:
    """``text`` as a label value: itself when it fits 63 characters (flow names may have up to
    253), else a truncated prefix plus a hash, deterministic and still a valid value."""
    if len(text) <= MAX_NAME_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: MAX_NAME_LENGTH - 11].rstrip('-.')}-{digest}"


def step_labels(*, flow: str, step: str, attempt: int) -> dict[str, str]:
    """The labels zenflow puts on a step's Job and its pods."""
    value = label_value(flow)
    return {
        LABEL_JOBFLOW_SHORT: value,
        LABEL_JOBFLOW: value,
        LABEL_STEP: step,
        LABEL_ATTEMPT: str(attempt),
        LABEL_MANAGED_BY: MANAGED_BY_VALUE,
    }


def owner_reference(flow: JobFlow) -> dict[str, Any]:
    """The controller owner reference to ``flow`` put on everything it creates."""
    return {
        "apiVersion": API_VERSION,
        "kind": JOBFLOW_KIND,
        "name": flow.name,
        "uid": flow.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def build_job(
    *,
    flow: JobFlow,
    step: Step,
    attempt: int,
    retry_count: int,
    context: TemplateContext,
    shard: int | None = None,
) -> dict[str, Any]:
    """The Job for ``attempt`` of ``step`` (of matrix ``shard``); raises ``TemplateError`` when a
    ``{{ }}`` reference has no value."""
    raw = _base_template(step)
    template = render(raw, context)
    inputs = [{"name": i.name, "value": render(i.value, context)} for i in step.inputs]
    flow_env = render(copy.deepcopy(flow.spec.env), context) if flow.spec.env else []

    meta = template.get("metadata") or {}
    spec = template.setdefault("spec", {})
    pod = spec.setdefault("template", {})
    pod_meta = pod.setdefault("metadata", {})
    pod_spec = pod.setdefault("spec", {})

    ours = step_labels(flow=flow.name, step=step.name, attempt=attempt)
    if shard is not None:
        ours[LABEL_SHARD] = str(shard)
    extra_labels = dict(step.metadata.labels or {}) if step.metadata else {}
    extra_annotations = dict(step.metadata.annotations or {}) if step.metadata else {}
    labels = {**(meta.get("labels") or {}), **extra_labels, **ours}
    annotations = {
        **(meta.get("annotations") or {}),
        **extra_annotations,
        ANNOTATION_RETRY_COUNT: str(retry_count),
    }
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **extra_labels, **ours}
    if extra_annotations:
        pod_meta["annotations"] = {**(pod_meta.get("annotations") or {}), **extra_annotations}

    pod_spec.setdefault("restartPolicy", "Never")
    spec.setdefault("backoffLimit", 0)
    if step.timeout_seconds is not None:
        spec["activeDeadlineSeconds"] = step.timeout_seconds
    policy = flow.spec.execution_policy.pod_failure_policy
    if policy is not None and "podFailurePolicy" not in spec:
        spec["podFailurePolicy"] = copy.deepcopy(policy)
    for container in pod_spec.get("containers") or []:
        if flow_env or inputs:
            container["env"] = [*flow_env, *(container.get("env") or []), *inputs]
    mount_workspaces(flow=flow, step=step, pod_spec=pod_spec)
    wrap_for_artifacts(step=step, pod_spec=pod_spec)

    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(flow=flow.name, step=step.name, attempt=attempt, shard=shard),
            "namespace": flow.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(flow)],
        },
        "spec": spec,
    }


def _base_template(step: Step) -> dict[str, Any]:
    """A deep copy of the step's Job template, or the Job the ``run`` shorthand stands for."""
    if step.template is not None:
        return copy.deepcopy(dict(step.template))
    run = step.run
    if run is None:
        raise ValueError(f"step {step.name!r} has neither template nor run")
    container: dict[str, Any] = {"name": RUN_CONTAINER_NAME, "image": run.image}
    if run.script is not None:
        container["command"] = ["sh", "-c", run.script]
    elif run.command is not None:
        container["command"] = list(run.command)
    if run.args is not None and run.script is None:
        container["args"] = list(run.args)
    if run.env:
        container["env"] = copy.deepcopy(run.env)
    if run.working_dir is not None:
        container["workingDir"] = run.working_dir
    if run.resources is not None:
        container["resources"] = copy.deepcopy(run.resources)
    return {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}}


def template_context(
    *,
    flow: JobFlow,
    step: Step,
    attempt: int,
    outputs: Mapping[str, Mapping[str, str]],
    phases: Mapping[str, str],
    matrix: Mapping[str, str] | None = None,
) -> TemplateContext:
    """The values ``{{ }}`` references of one step attempt resolve to."""
    return TemplateContext(
        matrix=dict(matrix or {}),
        params=flow.spec.param_values(),
        flow={"name": flow.name, "namespace": flow.namespace, "uid": flow.uid},
        step_outputs=outputs,
        step_phases=phases,
        step={"name": step.name, "attempt": str(attempt)},
        step_artifacts=artifact_values(flow),
    )


def artifact_values(flow: JobFlow) -> dict[str, dict[str, dict[str, str]]]:
    """``{{ steps.S.artifacts.A.path|workspace }}`` values: known from the spec alone."""
    return {
        s.name: {
            a.name: {"path": a.path, "workspace": a.source.workspace or ""}
            for a in s.artifacts.outputs
        }
        for s in flow.spec.all_steps()
        if s.artifacts is not None and s.artifacts.outputs
    }
