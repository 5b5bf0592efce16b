"""Checks of artifacts: what a step leaves (``artifacts.outputs``) and takes (``inputs``).

An output artifact needs a name unique in its step, a path relative to its workspace (inside the
step's ``subPath`` when it mounts one), a ``source.workspace`` that is a claim of the flow the
step mounts writable, a step that runs a container command zenflow can wrap (the first
container's ``command``, or ``run.command``/``run.script``), and neither a matrix nor a Manual
step. An input artifact names an output artifact of a step that is guaranteed to finish first
(an ancestor; for a finally step, any regular step too), and its step mounts that workspace.
``{{ steps.S.artifacts.A.path }}`` must name a declared artifact (``artifact_ref_problem``).

Steps using ``templateRef`` are checked once the flow is resolved.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.artifact import MAX_ARTIFACT_NAME_LENGTH
from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.api.workspace import Workspace, WorkspaceMount
from zenflow.core.dag import Dag
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.workspaces import relative_path_problem

_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def artifact_ref_problem(target: Step, artifact: str, shown: str) -> str | None:
    """What is wrong with ``{{ steps.T.artifacts.A.… }}`` once T is known to be reachable."""
    if target.template_ref is not None:
        return None
    declared = [a.name for a in target.artifacts.outputs] if target.artifacts else []
    if artifact in declared:
        return None
    names = ", ".join(declared) or "none"
    return f'{shown}: step "{target.name}" declares no output artifact {artifact!r} ({names})'


def check_artifacts(
    spec: JobFlowSpec, *, regular: Dag, final: Dag, path: str, out: Collector
) -> None:
    workspaces = {w.name: w for w in spec.workspaces}
    steps = {s.name: s for s in reversed(spec.all_steps())}
    finally_names = {s.name for s in spec.finally_} - {s.name for s in spec.steps}
    for section, items in (("steps", spec.steps), ("finally", spec.finally_)):
        for i, step in enumerate(items):
            if step.artifacts is None or step.template_ref is not None:
                continue
            here = f"{path}.{section}[{i}].artifacts"
            _check_outputs(step, workspaces, path=here, out=out)
            dag = final if section == "finally" else regular
            for j, item in enumerate(step.artifacts.inputs):
                where = f"{here}.inputs[{j}]"
                _check_name(item.name, path=f"{where}.name", out=out)
                producer = steps.get(item.from_.step)
                if producer is None:
                    out.error(f"{where}.from.step", f'unknown step "{item.from_.step}"')
                    continue
                if not _before(producer.name, step.name, dag, finally_names, section):
                    out.error(
                        f"{where}.from.step",
                        f'step "{producer.name}" is not guaranteed to finish before '
                        f'"{step.name}"; add it to dependencies (directly or indirectly)',
                    )
                    continue
                if producer.template_ref is not None:
                    continue
                made = _outputs(producer).get(item.from_.artifact)
                if made is None:
                    names = ", ".join(_outputs(producer)) or "none"
                    out.error(
                        f"{where}.from.artifact",
                        f'step "{producer.name}" declares no output artifact '
                        f'"{item.from_.artifact}" ({names})',
                    )
                    continue
                _check_visible(step, made.source.workspace, made.path, path=where, out=out)
            _check_unique([a.name for a in step.artifacts.inputs], f"{here}.inputs", out)


def _check_outputs(
    step: Step, workspaces: Mapping[str, Workspace], *, path: str, out: Collector
) -> None:
    assert step.artifacts is not None
    outputs = step.artifacts.outputs
    if not outputs:
        return
    if step.type == "Manual":
        out.error(f"{path}.outputs", "a Manual step runs nothing: it leaves no artifacts")
        return
    if step.matrix is not None:
        out.error(
            f"{path}.outputs", "a matrix step cannot leave artifacts (every shard would write them)"
        )
    if not has_command(step):
        out.error(
            f"{path}.outputs",
            "zenflow checks artifacts by wrapping the step's first container command: give it "
            "a command (run.command or run.script, or template ... containers[0].command)",
        )
    _check_unique([a.name for a in outputs], f"{path}.outputs", out)
    mounts = {m.name: m for m in step.workspaces}
    for j, artifact in enumerate(outputs):
        here = f"{path}.outputs[{j}]"
        _check_name(artifact.name, path=f"{here}.name", out=out)
        problem = relative_path_problem(artifact.path)
        if problem is not None:
            out.error(f"{here}.path", problem)
        name = artifact.source.workspace
        if name is None:
            out.error(f"{here}.source.workspace", "required: the workspace holding the artifact")
            continue
        workspace = workspaces.get(name)
        if workspace is None:
            out.error(f"{here}.source.workspace", f'unknown workspace "{name}"')
            continue
        if not workspace.is_claim:
            out.error(
                f"{here}.source.workspace",
                f'workspace "{name}" is not a claim: artifacts live on a volumeClaimTemplate or '
                "persistentVolumeClaim workspace",
            )
            continue
        mount = mounts.get(name)
        if mount is None or mount.read_only:
            how = "does not mount it" if mount is None else "mounts it readOnly"
            out.error(
                f"{here}.source.workspace",
                f'the step must mount workspace "{name}" writable to leave an artifact there '
                f"(it {how})",
            )
            continue
        if problem is None and not under_sub_path(mount, artifact.path):
            out.error(
                f"{here}.path",
                f"{artifact.path} is outside the step's subPath {mount.sub_path!r} of workspace "
                f'"{name}"',
            )


def _check_visible(
    step: Step, workspace: str | None, artifact_path: str, *, path: str, out: Collector
) -> None:
    """The consumer mounts the artifact's workspace, and its subPath shows the file."""
    if workspace is None:
        return
    mount = next((m for m in step.workspaces if m.name == workspace), None)
    if mount is None:
        out.error(
            path,
            f'the artifact lives in workspace "{workspace}": this step must mount it to read it',
        )
    elif not under_sub_path(mount, artifact_path):
        out.error(
            path,
            f"the artifact ({artifact_path}) is outside this step's subPath {mount.sub_path!r} "
            f'of workspace "{workspace}"',
        )


def under_sub_path(mount: WorkspaceMount, artifact_path: str) -> bool:
    if not mount.sub_path:
        return True
    sub = posixpath.normpath(mount.sub_path)
    return posixpath.normpath(artifact_path).startswith(sub.rstrip("/") + "/")


def has_command(step: Step) -> bool:
    """True when zenflow can wrap the step's (first) container command."""
    if step.run is not None:
        return step.run.script is not None or bool(step.run.command)
    containers = _first_container(step.template)
    return bool(containers.get("command"))


def _first_container(template: Mapping[str, Any] | None) -> Mapping[str, Any]:
    spec = template.get("spec") if isinstance(template, Mapping) else None
    pod = spec.get("template") if isinstance(spec, Mapping) else None
    pod_spec = pod.get("spec") if isinstance(pod, Mapping) else None
    containers = pod_spec.get("containers") if isinstance(pod_spec, Mapping) else None
    if isinstance(containers, list) and containers and isinstance(containers[0], Mapping):
        return containers[0]
    return {}


def _outputs(step: Step) -> dict[str, Any]:
    return {a.name: a for a in step.artifacts.outputs} if step.artifacts else {}


def _before(producer: str, consumer: str, dag: Dag, finally_names: set[str], section: str) -> bool:
    if producer == consumer:
        return False
    if section == "finally" and producer not in finally_names:
        return True  # every regular step is terminal before finally steps start
    if section == "steps" and producer in finally_names:
        return False
    return producer in dag and consumer in dag and producer in dag.ancestors(consumer)


def _check_name(name: str, *, path: str, out: Collector) -> None:
    if len(name) > MAX_ARTIFACT_NAME_LENGTH or not _NAME.match(name):
        out.error(
            path,
            f"invalid artifact name {name!r}: letters, digits, '_' and '-', not starting with a "
            "digit or '-'",
        )


def _check_unique(names: list[str], path: str, out: Collector) -> None:
    seen: set[str] = set()
    for j, name in enumerate(names):
        if name in seen:
            out.error(f"{path}[{j}].name", f"duplicate artifact name {name!r}")
        seen.add(name)
