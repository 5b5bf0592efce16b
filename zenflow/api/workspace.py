"""Workspaces: named volumes a flow declares once (``spec.workspaces[]``) and its steps mount
(``steps[].workspaces[]``), so files written by one step are read by the next.

A workspace has exactly one source (the validator checks it):

- ``volumeClaimTemplate``: a PersistentVolumeClaim zenflow creates for the flow before its first
  step, named ``<flow>-<workspace>`` (``claim_name``). With ``reclaimPolicy: Delete`` (default)
  the flow owns it and deleting the flow deletes it; with ``Retain`` it is labelled with the flow
  but not owned, so it outlives the flow.
- ``persistentVolumeClaim``: an existing claim (``claimName``); zenflow never creates or
  deletes it.
- ``configMap`` / ``secret``: read-only files from an existing ConfigMap or Secret.
- ``emptyDir``: scratch space of one step's pod (it cannot pass files to another step).

Each step lists the workspaces it mounts (``name``, ``mountPath``, ``readOnly``, ``subPath``);
zenflow adds the volume (named after the workspace) and the mount to every container of the
step's Job. Steps that mount one ReadWriteOnce claim writable never run at once: the planner
holds the later one Pending until the other finished (``zenflow.core.planning.workspaces``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal

from pydantic import Field

from zenflow.api.common import ApiModel, LabelsAnnotations

MAX_WORKSPACES: Final = 16
"""Most workspaces a flow declares."""
MAX_STEP_WORKSPACES: Final = 16
"""Most workspaces one step mounts."""
MAX_WORKSPACE_NAME_LENGTH: Final = 40
"""Workspace names are volume names (DNS-1123 labels) and part of claim names."""
WORKSPACE_NAME_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
MAX_PATH_LENGTH: Final = 1024

ReclaimPolicy = Literal["Delete", "Retain"]
AccessMode = Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]
EXCLUSIVE_ACCESS_MODES: Final = frozenset({"ReadWriteOnce", "ReadWriteOncePod"})
"""Claims that one writer at a time may mount: zenflow serialises the steps writing them."""


class VolumeClaimTemplate(ApiModel):
    """A PersistentVolumeClaim zenflow creates for the flow (named ``<flow>-<workspace>``)."""

    metadata: LabelsAnnotations | None = Field(
        default=None,
        description="Labels and annotations of the claim (its name is zenflow's: "
        "<flow>-<workspace>).",
    )
    spec: dict[str, Any] = Field(
        description="core/v1 PersistentVolumeClaimSpec: accessModes, resources.requests."
        "storage, storageClassName, ..."
    )
    reclaim_policy: ReclaimPolicy = Field(
        default="Delete",
        description="Delete: the flow owns the claim and deleting the flow deletes it. Retain: "
        "the claim is kept after the flow is deleted (labelled jobflow=<flow>).",
    )


class ExistingClaim(ApiModel):
    """An existing PersistentVolumeClaim of the flow's namespace."""

    claim_name: str = Field(description="Name of the claim.", max_length=253)
    access_mode: AccessMode = Field(
        default="ReadWriteOnce",
        description="How the claim may be shared, as it was created (zenflow cannot read it "
        "before running): steps writing a ReadWriteOnce(Pod) claim are run one at a time.",
    )


class Workspace(ApiModel):
    """A named volume of the flow, mounted by the steps that list it."""

    name: str = Field(
        description="Workspace name: a DNS-1123 label; also the volume name in each step's pod.",
        json_schema_extra={
            "maxLength": MAX_WORKSPACE_NAME_LENGTH,
            "pattern": WORKSPACE_NAME_PATTERN,
        },
    )
    description: str | None = Field(
        default=None, max_length=MAX_PATH_LENGTH, description="What the workspace holds."
    )
    volume_claim_template: VolumeClaimTemplate | None = Field(
        default=None, description="A claim created for this flow (owned by it unless Retain)."
    )
    persistent_volume_claim: ExistingClaim | None = Field(
        default=None, description="An existing claim."
    )
    config_map: dict[str, Any] | None = Field(
        default=None,
        description="core/v1 ConfigMapVolumeSource: an existing ConfigMap's keys as read-only "
        "files.",
    )
    secret: dict[str, Any] | None = Field(
        default=None,
        description="core/v1 SecretVolumeSource: an existing Secret's keys as read-only files.",
    )
    empty_dir: dict[str, Any] | None = Field(
        default=None,
        description="core/v1 EmptyDirVolumeSource: scratch space of one step's pod (usable by "
        "a single step).",
    )

    def source_fields(self) -> list[str]:
        """Wire names of the sources that are set (exactly one is valid)."""
        return [
            wire
            for wire, value in (
                ("volumeClaimTemplate", self.volume_claim_template),
                ("persistentVolumeClaim", self.persistent_volume_claim),
                ("configMap", self.config_map),
                ("secret", self.secret),
                ("emptyDir", self.empty_dir),
            )
            if value is not None
        ]

    @property
    def is_claim(self) -> bool:
        """A persistent volume (a claim template or an existing claim): files outlive a pod."""
        return self.volume_claim_template is not None or self.persistent_volume_claim is not None

    @property
    def read_only(self) -> bool:
        """ConfigMaps and Secrets are always mounted read-only."""
        return self.config_map is not None or self.secret is not None

    def access_modes(self) -> frozenset[str]:
        """The claim's access modes (empty for anything but a claim)."""
        if self.persistent_volume_claim is not None:
            return frozenset({self.persistent_volume_claim.access_mode})
        if self.volume_claim_template is not None:
            modes = self.volume_claim_template.spec.get("accessModes")
            if isinstance(modes, list):
                return frozenset(str(m) for m in modes)
            return frozenset({"ReadWriteOnce"})
        return frozenset()

    @property
    def exclusive(self) -> bool:
        """Writers of this claim must not run at once (it is ReadWriteOnce or -OncePod only)."""
        modes = self.access_modes()
        return bool(modes) and modes <= EXCLUSIVE_ACCESS_MODES


class WorkspaceMount(ApiModel):
    """A step's use of a flow workspace."""

    name: str = Field(
        description="Name of a workspace of spec.workspaces.",
        json_schema_extra={"maxLength": MAX_WORKSPACE_NAME_LENGTH},
    )
    mount_path: str = Field(
        description="Absolute path where the workspace appears in every container of the step.",
        max_length=MAX_PATH_LENGTH,
    )
    read_only: bool = Field(
        default=False,
        description="Mount read-only (ConfigMaps and Secrets always are). Read-only mounts of a "
        "ReadWriteOnce claim are not serialised with its writers.",
    )
    sub_path: str | None = Field(
        default=None,
        max_length=MAX_PATH_LENGTH,
        description="Mount this relative directory of the workspace instead of its root.",
    )


def claim_name(*, flow: str, workspace: str) -> str:
    """The name of the claim a ``volumeClaimTemplate`` workspace gets: ``<flow>-<workspace>``,
    or a truncated prefix plus a hash when that exceeds 253 characters (deterministic)."""
    name = f"{flow}-{workspace}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(f"{flow}\x00{workspace}".encode()).hexdigest()[:10]
    return f"{name[: 253 - 11].rstrip('-.')}-{digest}"
