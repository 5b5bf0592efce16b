"""Checks of workspaces: the flow's declarations (``spec.workspaces``) and each step's mounts.

Errors: a workspace name that is not a DNS-1123 label or is repeated; not exactly one source; a
claim template without ``accessModes`` or a storage request, or naming its claim; a mount of an
unknown workspace; a mount path that is not absolute, or that two mounts of one container share
(the step's workspaces, or one of them and a volumeMount of the Job template); a subPath that is
absolute or climbs out with ``..``; an emptyDir workspace mounted by more than one step (it lives
and dies with one pod); a matrix step mounting a ReadWriteOnce claim writable with shards that
may run together; a Manual step mounting anything. Warnings: a workspace no step mounts.

Steps that use ``templateRef`` get their mounts from the template: they are checked once the
flow is resolved (the resolved spec goes through these same checks).
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Final

from zenflow.api.jobflow import JobFlowSpec, Step
from zenflow.api.workspace import MAX_WORKSPACE_NAME_LENGTH, Workspace
from zenflow.core.validation.problems import Collector
from zenflow.core.validation.values import DNS1123_SUBDOMAIN

_LABEL: Final = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def check_workspaces(spec: JobFlowSpec, *, path: str, out: Collector) -> None:
    declared = _check_declarations(spec.workspaces, path=f"{path}.workspaces", out=out)
    used: dict[str, str] = {}  # workspace → the first step path mounting it
    for section, steps in (("steps", spec.steps), ("finally", spec.finally_)):
        for i, step in enumerate(steps):
            here = f"{path}.{section}[{i}]"
            if step.template_ref is not None and not step.workspaces:
                continue  # the template's mounts: checked once resolved
            _check_mounts(step, declared, used, path=here, out=out)
    for i, workspace in enumerate(spec.workspaces):
        if workspace.name not in used and workspace.name in declared:
            if any(s.template_ref is not None for s in spec.all_steps()):
                continue  # a template step may mount it
            out.warn(
                f"{path}.workspaces[{i}]",
                f'workspace "{workspace.name}" is not mounted by any step',
            )


def _check_declarations(
    workspaces: list[Workspace], *, path: str, out: Collector
) -> dict[str, Workspace]:
    declared: dict[str, Workspace] = {}
    for i, workspace in enumerate(workspaces):
        here = f"{path}[{i}]"
        name = workspace.name
        if len(name) > MAX_WORKSPACE_NAME_LENGTH or not _LABEL.match(name):
            out.error(
                f"{here}.name",
                f"invalid workspace name {name!r}: a DNS-1123 label of at most "
                f"{MAX_WORKSPACE_NAME_LENGTH} characters starting with a letter",
            )
        elif name in declared:
            out.error(f"{here}.name", f'duplicate workspace name "{name}"')
        else:
            declared[name] = workspace
        sources = workspace.source_fields()
        if len(sources) != 1:
            got = ", ".join(sources) if sources else "none"
            out.error(
                here,
                "set exactly one of volumeClaimTemplate, persistentVolumeClaim, configMap, "
                f"secret, emptyDir (got {got})",
            )
        _check_source(workspace, path=here, out=out)
    return declared


def _check_source(workspace: Workspace, *, path: str, out: Collector) -> None:
    template = workspace.volume_claim_template
    if template is not None:
        here = f"{path}.volumeClaimTemplate"
        modes = template.spec.get("accessModes")
        if not isinstance(modes, list) or not modes:
            out.error(f"{here}.spec.accessModes", "required: e.g. [ReadWriteOnce]")
        resources = template.spec.get("resources")
        requests = resources.get("requests") if isinstance(resources, Mapping) else None
        if not isinstance(requests, Mapping) or "storage" not in requests:
            out.error(f"{here}.spec.resources.requests.storage", 'required: e.g. "1Gi"')
    claim = workspace.persistent_volume_claim
    if claim is not None and not DNS1123_SUBDOMAIN.match(claim.claim_name):
        out.error(
            f"{path}.persistentVolumeClaim.claimName",
            f"must be a DNS-1123 subdomain, got {claim.claim_name!r}",
        )
    if workspace.config_map is not None and not _named(workspace.config_map, "name"):
        out.error(f"{path}.configMap.name", "required: the ConfigMap's name")
    if workspace.secret is not None and not _named(workspace.secret, "secretName"):
        out.error(f"{path}.secret.secretName", "required: the Secret's name")


def _named(source: Mapping[str, Any], key: str) -> bool:
    value = source.get(key)
    return isinstance(value, str) and bool(value)


def _check_mounts(
    step: Step,
    declared: Mapping[str, Workspace],
    used: dict[str, str],
    *,
    path: str,
    out: Collector,
) -> None:
    if not step.workspaces:
        return
    if step.type == "Manual":
        out.error(f"{path}.workspaces", "a Manual step runs nothing: it mounts no workspace")
        return
    own = template_mounts(step.template)
    own_volumes = template_volume_names(step.template)
    paths: dict[str, str] = {}
    names: set[str] = set()
    for j, mount in enumerate(step.workspaces):
        here = f"{path}.workspaces[{j}]"
        workspace = declared.get(mount.name)
        if workspace is None:
            known = sorted(declared)
            message = f'unknown workspace "{mount.name}"'
            close = difflib.get_close_matches(mount.name, known, n=1, cutoff=0.6)
            if close:
                message += f' (did you mean "{close[0]}"?)'
            message += f"; spec.workspaces has: {', '.join(known) or 'none'}"
            out.error(f"{here}.name", message)
        if mount.name in names:
            out.error(f"{here}.name", f'workspace "{mount.name}" is mounted twice by this step')
        names.add(mount.name)
        if mount.name in own_volumes:
            out.error(
                f"{here}.name",
                f'the Job template already has a volume named "{mount.name}" (workspace volumes '
                "are named after the workspace)",
            )
        problem = mount_path_problem(mount.mount_path)
        if problem is not None:
            out.error(f"{here}.mountPath", problem)
        else:
            normal = posixpath.normpath(mount.mount_path)
            if normal in paths:
                out.error(
                    f"{here}.mountPath",
                    f"{mount.mount_path} is also where {paths[normal]} is mounted",
                )
            elif normal in own:
                out.error(
                    f"{here}.mountPath",
                    f"{mount.mount_path} is also a volumeMount of the Job template ({own[normal]})",
                )
            paths.setdefault(normal, f'workspace "{mount.name}"')
        if mount.sub_path is not None:
            problem = relative_path_problem(mount.sub_path)
            if problem is not None:
                out.error(f"{here}.subPath", problem)
        if workspace is None:
            continue
        if workspace.empty_dir is not None:
            first = used.get(mount.name)
            if first is not None and first != path:
                out.error(
                    f"{here}.name",
                    f'workspace "{mount.name}" is an emptyDir, private to one step\'s pod, and '
                    f"{first} mounts it already; share files through a volumeClaimTemplate",
                )
        used.setdefault(mount.name, path)
        matrix = step.matrix
        if (
            matrix is not None
            and workspace.exclusive
            and not mount.read_only
            and matrix.max_parallel != 1
        ):
            out.error(
                f"{here}.readOnly",
                f'workspace "{mount.name}" is a ReadWriteOnce claim: the shards of this matrix '
                "step would write it at once; mount it readOnly, set matrix.maxParallel: 1, or "
                "use a ReadWriteMany claim",
            )


def mount_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a mount path, or None."""
    if not path.startswith("/"):
        return f"must be an absolute path, got {path!r}"
    if path.rstrip("/") == "":
        return "cannot be the root directory"
    if ".." in path.split("/"):
        return f"must not contain '..', got {path!r}"
    if ":" in path:
        return f"must not contain ':', got {path!r}"
    return None


def relative_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a path inside a workspace (subPath, artifact path), or None."""
    if not path:
        return "must not be empty"
    if path.startswith("/"):
        return f"must be relative to the workspace, got {path!r}"
    if ".." in path.split("/"):
        return f"must not contain '..', got {path!r}"
    return None


def template_mounts(template: Mapping[str, Any] | None) -> dict[str, str]:
    """Normalised mount path → container of every volumeMount in a Job template."""
    out: dict[str, str] = {}
    for container in _containers(template):
        for mount in container.get("volumeMounts") or []:
            if isinstance(mount, Mapping) and isinstance(mount.get("mountPath"), str):
                out.setdefault(
                    posixpath.normpath(mount["mountPath"]), f"container {container.get('name')!r}"
                )
    return out


def template_volume_names(template: Mapping[str, Any] | None) -> set[str]:
    pod_spec = _pod_spec(template)
    return {
        str(v.get("name"))
        for v in pod_spec.get("volumes") or []
        if isinstance(v, Mapping) and v.get("name")
    }


def _pod_spec(template: Mapping[str, Any] | None) -> Mapping[str, Any]:
    spec = template.get("spec") if isinstance(template, Mapping) else None
    pod = spec.get("template") if isinstance(spec, Mapping) else None
    pod_spec = pod.get("spec") if isinstance(pod, Mapping) else None
    return pod_spec if isinstance(pod_spec, Mapping) else {}


def _containers(template: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    containers = _pod_spec(template).get("containers")
    if not isinstance(containers, list):
        return []
    return [c for c in containers if isinstance(c, Mapping)]
