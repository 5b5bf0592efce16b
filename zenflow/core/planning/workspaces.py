"""Workspaces in the planner: the claims a flow creates, the volumes and mounts of a step's Job,
and the rule that steps writing one ReadWriteOnce claim never run at once.

- ``claim_manifests(flow)``: one PersistentVolumeClaim per ``volumeClaimTemplate`` workspace,
  named ``claim_name(flow, workspace)``, ensured with the resource templates before the first
  step. ``reclaimPolicy: Delete`` (default): owned by the flow (deleting it cascades). ``Retain``:
  not owned, labelled ``jobflow=<flow>`` and annotated with the flow's uid
  (``ANNOTATION_RETAINED_FOR``) so a re-ensure recognises it.
- ``mount_workspaces(flow, step, pod_spec)``: adds a volume named after each workspace the step
  mounts and the mount to every container (and the input artifacts' ``ZENFLOW_ARTIFACT_<NAME>``).
- ``ClaimGate``: exclusive claims (every access mode ReadWriteOnce or ReadWriteOncePod) held by
  running steps that mount them writable. The planner asks ``blocker`` before starting a step
  and ``hold`` when it starts one; a blocked step stays Pending with a message naming the holder,
  and is started by a later reconcile (the holder's Job finishing triggers one). Read-only mounts
  are not serialised. So two writers of such a claim are never Running together: the invariant
  the tests check.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any, Final

from zenflow.api.artifact import artifact_env_name
from zenflow.api.constants import (
    GROUP,
    LABEL_JOBFLOW,
    LABEL_JOBFLOW_SHORT,
    LABEL_MANAGED_BY,
    MANAGED_BY_VALUE,
)
from zenflow.api.jobflow import JobFlow, Step
from zenflow.api.workspace import Workspace, WorkspaceMount, claim_name

ANNOTATION_RETAINED_FOR: Final = f"{GROUP}/retained-for"
"""On a Retain claim: the uid of the flow it was created for (it has no owner reference)."""
LABEL_WORKSPACE: Final = f"{GROUP}/workspace"


def claim_manifests(
    flow: JobFlow, *, owner: Mapping[str, Any], label_value: str
) -> list[dict[str, Any]]:
    """The PersistentVolumeClaims of the flow's ``volumeClaimTemplate`` workspaces."""
    out = []
    for workspace in flow.spec.workspaces:
        template = workspace.volume_claim_template
        if template is None:
            continue
        meta = template.metadata.dump() if template.metadata is not None else {}
        labels = {
            **(meta.get("labels") or {}),
            LABEL_JOBFLOW_SHORT: label_value,
            LABEL_JOBFLOW: label_value,
            LABEL_WORKSPACE: workspace.name,
            LABEL_MANAGED_BY: MANAGED_BY_VALUE,
        }
        metadata: dict[str, Any] = {
            **meta,
            "name": claim_name(flow=flow.name, workspace=workspace.name),
            "namespace": flow.namespace,
            "labels": labels,
        }
        if template.reclaim_policy == "Retain":
            metadata["annotations"] = {
                **(meta.get("annotations") or {}),
                ANNOTATION_RETAINED_FOR: flow.uid,
            }
        else:
            metadata["ownerReferences"] = [dict(owner)]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": metadata,
                "spec": copy.deepcopy(template.spec),
            }
        )
    return out


def volume_of(flow: JobFlow, workspace: Workspace) -> dict[str, Any]:
    """The pod volume (named after the workspace) that mounts ``workspace``."""
    volume: dict[str, Any] = {"name": workspace.name}
    if workspace.volume_claim_template is not None:
        name = claim_name(flow=flow.name, workspace=workspace.name)
        volume["persistentVolumeClaim"] = {"claimName": name}
    elif workspace.persistent_volume_claim is not None:
        claim = workspace.persistent_volume_claim.claim_name
        volume["persistentVolumeClaim"] = {"claimName": claim}
    elif workspace.config_map is not None:
        volume["configMap"] = copy.deepcopy(workspace.config_map)
    elif workspace.secret is not None:
        volume["secret"] = copy.deepcopy(workspace.secret)
    else:
        volume["emptyDir"] = copy.deepcopy(workspace.empty_dir or {})
    return volume


def container_path(mount: WorkspaceMount, path: str) -> str:
    """Where ``path`` (relative to the workspace root) is in a container with ``mount``."""
    relative = posixpath.normpath(path)
    if mount.sub_path:
        relative = posixpath.relpath(relative, posixpath.normpath(mount.sub_path))
    return posixpath.join(mount.mount_path, relative)


def mount_workspaces(*, flow: JobFlow, step: Step, pod_spec: dict[str, Any]) -> None:
    """Add the step's workspaces (volumes and mounts) and its input artifacts' paths to the
    pod spec of its Job."""
    if not step.workspaces:
        return
    declared = {w.name: w for w in flow.spec.workspaces}
    volumes = list(pod_spec.get("volumes") or [])
    mounts = []
    for mount in step.workspaces:
        workspace = declared.get(mount.name)
        if workspace is None:
            continue  # the validator refuses it; never reached for a valid flow
        volumes.append(volume_of(flow, workspace))
        entry: dict[str, Any] = {"name": mount.name, "mountPath": mount.mount_path}
        if mount.read_only or workspace.read_only:
            entry["readOnly"] = True
        if mount.sub_path:
            entry["subPath"] = mount.sub_path
        mounts.append(entry)
    pod_spec["volumes"] = volumes
    env = _input_artifact_env(flow, step)
    for container in pod_spec.get("containers") or []:
        container["volumeMounts"] = [*(container.get("volumeMounts") or []), *mounts]
        if env:
            container["env"] = [*(container.get("env") or []), *env]


def _input_artifact_env(flow: JobFlow, step: Step) -> list[dict[str, str]]:
    if step.artifacts is None or not step.artifacts.inputs:
        return []
    steps = {s.name: s for s in flow.spec.all_steps()}
    mounts = {m.name: m for m in step.workspaces}
    env = []
    for item in step.artifacts.inputs:
        producer = steps.get(item.from_.step)
        outputs = producer.artifacts.outputs if producer and producer.artifacts else []
        made = next((a for a in outputs if a.name == item.from_.artifact), None)
        mount = mounts.get(made.source.workspace or "") if made is not None else None
        if made is None or mount is None:
            continue
        env.append(
            {"name": artifact_env_name(item.name), "value": container_path(mount, made.path)}
        )
    return env


def exclusive_claims(flow: JobFlow, step: Step) -> list[str]:
    """The exclusive (ReadWriteOnce) workspaces ``step`` mounts writable."""
    exclusive = {w.name for w in flow.spec.workspaces if w.exclusive}
    return [m.name for m in step.workspaces if not m.read_only and m.name in exclusive]


class ClaimGate:
    """Which running step holds each exclusive claim (see the module docstring)."""

    def __init__(self, flow: JobFlow, running: Iterable[str]) -> None:
        exclusive = {w.name for w in flow.spec.workspaces if w.exclusive}
        self._claims: dict[str, list[str]] = {}
        if exclusive:
            for step in flow.spec.all_steps():
                claims = [
                    m.name for m in step.workspaces if not m.read_only and m.name in exclusive
                ]
                if claims:
                    self._claims[step.name] = claims
        self._holders: dict[str, str] = {}
        for name in running:
            self.hold(name)

    def blocker(self, step: str) -> str | None:
        """Why ``step`` must wait, or None when it may start."""
        for claim in self._claims.get(step, ()):
            holder = self._holders.get(claim)
            if holder is not None and holder != step:
                return (
                    f'waiting for workspace "{claim}" (ReadWriteOnce): step "{holder}" is '
                    "writing it"
                )
        return None

    def hold(self, step: str) -> None:
        for claim in self._claims.get(step, ()):
            self._holders.setdefault(claim, step)
