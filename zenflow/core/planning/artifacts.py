"""Artifacts in the planner: how a producing container reports its output artifacts, how the
report becomes the step's outcome, and when a consumer may start.

Reporting (``wrap_for_artifacts``). The step's first container runs its command under a small
POSIX ``sh`` wrapper: the command runs as before (same argv, exit code passed through); when it
exits 0 the wrapper looks at each output artifact's path in the container (its mount path plus
the path, relative to the mount's subPath), and prepends a report to the container's termination
message file (``terminationMessagePath``, default ``/dev/termination-log``)::

    #zenflow-artifacts v1
    dist 1048576 sha256:9f86d0…
    logs missing
    #end
    <the command's own termination message, unchanged>

The report comes first so the 4 KiB limit cuts the command's message, never the report (at most
``MAX_OUTPUT_ARTIFACTS`` lines of about 140 bytes). A directory's size is its files' total and
its digest the SHA-256 of its files' sorted ``sha256sum`` lines; without ``sha256sum`` in the
image the digest is ``-`` (not recorded). The wrapper needs ``sh``, ``wc``, ``cut``, ``tr`` and
``find`` (busybox has them) and the container's command (an image's entrypoint cannot be
wrapped: the validator asks for ``command``). It avoids ``$(`` and ``$$`` (Kubernetes expands
those in command and args).

Reading (``split_report``): the controller reads the termination message of a succeeded
producer as it does for outputs; the report is split off before outputs are parsed.

Deciding (``settle``): a succeeded producer whose report lacks a non-optional artifact (or that
wrote no report at all) fails that attempt with reason ``ArtifactMissing`` (the retry policy
applies); otherwise the step records each artifact's name, size and digest in its status.
``input_gate``: a consumer whose producer did not succeed with the artifact recorded is Skipped
with reason ``ArtifactMissing`` (an ``optional`` input lets it run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from zenflow.api.artifact import ArtifactRecord
from zenflow.api.formats import clip
from zenflow.api.jobflow import Step
from zenflow.api.reasons import REASON_ARTIFACT_MISSING
from zenflow.api.status import StepStatus
from zenflow.core.planning.derive import Derived
from zenflow.core.planning.workspaces import container_path

REPORT_HEADER: Final = "#zenflow-artifacts v1"
REPORT_END: Final = "#end"
WRAPPER_NAME: Final = "zenflow-artifacts"
DEFAULT_TERMINATION_PATH: Final = "/dev/termination-log"

WRAPPER_SCRIPT: Final = """tl=$1; shift; list=''; tab='	'; nl='
'
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do list="$list$nl$1$tab$2"; shift 2; done
shift
"$@"
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
rep='#zenflow-artifacts v1'
while IFS="$tab" read -r n p; do
  [ -n "$n" ] || continue
  if [ -f "$p" ]; then
    s=`wc -c < "$p" | tr -d ' '`
    d=`sha256sum "$p" 2>/dev/null | cut -d ' ' -f 1`
  elif [ -d "$p" ]; then
    s=`find "$p" -type f -exec cat {} + 2>/dev/null | wc -c | tr -d ' '`
    d=`cd "$p" && find . -type f -exec sha256sum {} + 2>/dev/null | LC_ALL=C sort |
      sha256sum 2>/dev/null | cut -d ' ' -f 1`
  else
    rep="$rep$nl$n missing"
    continue
  fi
  [ -n "$d" ] && d="sha256:$d" || d=-
  rep="$rep$nl$n $s $d"
done <<ZENFLOW_ARTIFACTS
$list
ZENFLOW_ARTIFACTS
msg=`cat "$tl" 2>/dev/null`
printf '%s\\n#end\\n%s' "$rep" "$msg" > "$tl"
exit 0
"""


@dataclass(frozen=True, slots=True)
class Reported:
    """One line of a report: the artifact was there (size, digest) or missing."""

    present: bool
    size: int | None = None
    digest: str | None = None


ArtifactReport = Mapping[str, Reported]


def wrap_for_artifacts(*, step: Step, pod_spec: dict[str, Any]) -> None:
    """Run the first container's command under the reporting wrapper (see the module
    docstring); nothing when the step declares no output artifact."""
    if step.artifacts is None or not step.artifacts.outputs:
        return
    containers = pod_spec.get("containers") or []
    if not containers or not containers[0].get("command"):
        return  # the validator refuses this; a Job without a command cannot be wrapped
    container = containers[0]
    mounts = {m.name: m for m in step.workspaces}
    pairs: list[str] = []
    for artifact in step.artifacts.outputs:
        mount = mounts.get(artifact.source.workspace or "")
        if mount is None:
            continue
        pairs += [artifact.name, container_path(mount, artifact.path)]
    termination = container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH
    container["command"] = [
        "sh",
        "-c",
        WRAPPER_SCRIPT,
        WRAPPER_NAME,
        termination,
        *pairs,
        "--",
        *container["command"],
    ]


def split_report(message: str | None) -> tuple[ArtifactReport | None, str | None]:
    """(the artifact report, the rest of the message) of a termination message; no report:
    (None, message)."""
    if message is None or not message.startswith(REPORT_HEADER + "\n"):
        return None, message
    body, sep, rest = message[len(REPORT_HEADER) + 1 :].partition(REPORT_END + "\n")
    if not sep:
        body, sep, rest = message[len(REPORT_HEADER) + 1 :].partition(REPORT_END)
    report: dict[str, Reported] = {}
    for line in body.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[1] == "missing":
            report[parts[0]] = Reported(False)
        elif len(parts) == 3:
            size = int(parts[1]) if parts[1].isdigit() else None
            digest = parts[2] if parts[2].startswith("sha256:") and len(parts[2]) > 7 else None
            report[parts[0]] = Reported(True, size, digest)
    return report, rest


def settle(
    step: Step,
    derived: Derived,
    *,
    report: ArtifactReport | None,
    previous: StepStatus | None,
) -> Derived:
    """A succeeded producer's outcome once its artifacts are known: recorded, or a failed
    attempt (``ArtifactMissing``). Other kinds are returned as they are."""
    if step.artifacts is None or not step.artifacts.outputs or derived.status is None:
        return derived
    status, job = derived.status, derived.job
    if derived.kind != "succeeded" or job is None:
        return derived
    same_job = previous is not None and previous.job_ref == job.name
    if same_job and previous is not None and previous.phase == "Succeeded":
        # Recorded from this Job already (the report is not read again).
        return replace(derived, status=status.model_copy(update={"artifacts": previous.artifacts}))
    missing_before = previous is not None and previous.reason == REASON_ARTIFACT_MISSING
    if same_job and missing_before and report is None:  # decided: not read again
        assert previous is not None
        return _missing(derived, previous.message or "an output artifact was missing")
    missing, records = _check(step, report)
    if missing is not None:
        return _missing(derived, missing)
    return replace(derived, status=status.model_copy(update={"artifacts": records or None}))


def _check(step: Step, report: ArtifactReport | None) -> tuple[str | None, list[ArtifactRecord]]:
    assert step.artifacts is not None
    if report is None:
        return (
            "the container reported no artifacts (its command did not run under zenflow's "
            "artifact check, or its termination message was not kept)"
        ), []
    records = []
    for artifact in step.artifacts.outputs:
        found = report.get(artifact.name)
        if found is None or not found.present:
            if artifact.optional:
                continue
            return (
                f"output artifact {artifact.name!r} ({artifact.path} in workspace "
                f'"{artifact.source.workspace}") was not there when the step\'s container ended'
            ), []
        records.append(ArtifactRecord(name=artifact.name, size=found.size, digest=found.digest))
    return None, records


def _missing(derived: Derived, message: str) -> Derived:
    assert derived.status is not None
    status = derived.status.model_copy(
        update={
            "phase": "Failed",
            "reason": REASON_ARTIFACT_MISSING,
            "message": clip(message),
            "outputs": None,
            "artifacts": None,
        }
    )
    job = derived.job
    if job is not None:
        job = replace(job, phase="Failed", reason=REASON_ARTIFACT_MISSING, message=message)
    return replace(derived, kind="failed_attempt", status=status, job=job)


def artifact_missing(status: StepStatus) -> bool:
    """The step's last attempt failed because an output artifact was missing."""
    return status.reason == REASON_ARTIFACT_MISSING and status.phase in ("Failed", "Retrying")


def input_gate(step: Step, statuses: Mapping[str, StepStatus]) -> tuple[str, str] | None:
    """(reason, message) when a non-optional input artifact of ``step`` is not available (its
    producer did not succeed with it recorded); None when the step may start."""
    if step.artifacts is None or not step.artifacts.inputs:
        return None
    for item in step.artifacts.inputs:
        if item.optional:
            continue
        producer = statuses.get(item.from_.step)
        recorded = {a.name for a in producer.artifacts or []} if producer is not None else set()
        if (
            producer is not None
            and producer.phase == "Succeeded"
            and item.from_.artifact in recorded
        ):
            continue
        why = f"step {item.from_.step!r} is {producer.phase}" if producer else "no producer"
        if producer is not None and producer.phase == "Succeeded":
            why = f"step {item.from_.step!r} recorded no such artifact"
        return REASON_ARTIFACT_MISSING, (
            f"input artifact {item.name!r} ({item.from_.step}.{item.from_.artifact}) is not "
            f"available: {why}"
        )
    return None
