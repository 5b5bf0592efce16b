"""Artifacts: files a step leaves for later steps (``artifacts.outputs``) and takes from earlier
ones (``artifacts.inputs``).

An output artifact is a path in a workspace the step mounts writable (``source.workspace``). At
the end of the producing container zenflow checks it exists and records its size and SHA-256
digest in the step's status (``status.steps[].artifacts``); a missing one fails the step with
reason ``ArtifactMissing``. How the container reports it is
``zenflow.core.planning.artifacts``' business (a wrapper around the container's command that
prepends a report to its termination message).

An input artifact names a producer's output artifact (``from: {step, artifact}``); the step
starts only once that producer succeeded and recorded the artifact, and finds the file at the
path given by ``ZENFLOW_ARTIFACT_<NAME>`` (the producer's workspace must be mounted by the
consumer too). ``{{ steps.STEP.artifacts.NAME.path }}`` is the artifact's path inside its
workspace.

``source`` leaves room for other transports (an object store for clusters without shared
volumes) without changing the shape of either list: today ``workspace`` is its only field.
"""

from __future__ import annotations

from typing import Final

from pydantic import Field

from zenflow.api.common import ApiModel

MAX_OUTPUT_ARTIFACTS: Final = 8
"""Most output artifacts per step (their report shares the 4 KiB termination message)."""
MAX_INPUT_ARTIFACTS: Final = 16
MAX_ARTIFACT_NAME_LENGTH: Final = 63
ARTIFACT_NAME_PATTERN: Final = r"^[A-Za-z_][A-Za-z0-9_-]*$"
MAX_ARTIFACT_PATH_LENGTH: Final = 1024
ARTIFACT_FIELDS: Final = frozenset({"path", "workspace"})
"""What ``{{ steps.STEP.artifacts.NAME.<field> }}`` may ask for (known from the spec)."""


class ArtifactSource(ApiModel):
    """Where an artifact's bytes live: a workspace of the flow (the only transport today)."""

    workspace: str | None = Field(
        default=None,
        description="Name of a flow workspace (a claim) the producing step mounts writable.",
        max_length=63,
    )


class OutputArtifact(ApiModel):
    """A file (or directory) the step leaves for later steps."""

    name: str = Field(
        description="Artifact name (letters, digits, _ and -), unique in the step.",
        json_schema_extra={
            "maxLength": MAX_ARTIFACT_NAME_LENGTH,
            "pattern": ARTIFACT_NAME_PATTERN,
        },
    )
    path: str = Field(
        description="Path relative to the workspace's root, e.g. dist/app.tar.gz.",
        max_length=MAX_ARTIFACT_PATH_LENGTH,
    )
    source: ArtifactSource = Field(description="Where the artifact lives.")
    optional: bool = Field(
        default=False,
        description="A missing optional artifact does not fail the step (nothing is recorded).",
    )
    description: str | None = Field(
        default=None, max_length=1024, description="What the artifact holds."
    )


class ArtifactRef(ApiModel):
    """An output artifact of an earlier step."""

    step: str = Field(description="The producing step.", max_length=63)
    artifact: str = Field(description="Its output artifact's name.", max_length=63)


class InputArtifact(ApiModel):
    """A file the step takes from an earlier step; its path is in ``ZENFLOW_ARTIFACT_<NAME>``."""

    name: str = Field(
        description="Input name; the environment variable ZENFLOW_ARTIFACT_<NAME> (upper case, "
        "- as _) holds the artifact's path in this step's containers.",
        json_schema_extra={
            "maxLength": MAX_ARTIFACT_NAME_LENGTH,
            "pattern": ARTIFACT_NAME_PATTERN,
        },
    )
    from_: ArtifactRef = Field(alias="from", description="The producer's artifact.")
    optional: bool = Field(
        default=False,
        description="Run even when the artifact is not available (the variable is then unset).",
    )


class StepArtifacts(ApiModel):
    """Files a step takes and leaves."""

    inputs: list[InputArtifact] = Field(
        default_factory=list,
        max_length=MAX_INPUT_ARTIFACTS,
        description="Artifacts of earlier steps this step reads.",
    )
    outputs: list[OutputArtifact] = Field(
        default_factory=list,
        max_length=MAX_OUTPUT_ARTIFACTS,
        description="Artifacts this step leaves; checked and recorded when its container ends.",
    )


class ArtifactRecord(ApiModel):
    """What zenflow recorded of an output artifact when its producer ended."""

    name: str = Field(description="The output artifact's name.")
    size: int | None = Field(default=None, ge=0, description="Bytes (a directory: its files').")
    digest: str | None = Field(
        default=None,
        description="sha256:<hex> of the file (a directory: of the sorted list of its files' "
        "digests); absent when the image has no sha256sum.",
    )


def artifact_env_name(name: str) -> str:
    """``ZENFLOW_ARTIFACT_<NAME>`` for an input artifact named ``name``."""
    return "ZENFLOW_ARTIFACT_" + name.upper().replace("-", "_")
