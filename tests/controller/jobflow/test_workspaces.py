"""End to end on the real control plane, pods run as local processes (exec mode): workspaces and
artifacts (issue 14).

Aspects: step A writes a file into a claim created for the flow and step B, mounting the claim
elsewhere and read-only, finds it through its input artifact and checks its content; the flow
owns the claim; A's status records the artifact's size and SHA-256 digest, and
``{{ steps.A.artifacts.NAME.path }}`` reached B. An artifact missing when its producer's
container ends fails that step with reason ArtifactMissing (and the flow). Two independent steps
writing one ReadWriteOnce claim never run at once: each takes a lock directory in the claim that
the other would find, and their status times do not overlap.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import pytest

from tests.support.jobflows import Running, jobflow, step_status

pytestmark = pytest.mark.integration

CLAIM = {
    "name": "src",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}
    },
}
CONTENT = "hello from build\n"


def run_step(name: str, script: str, *deps: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "run": {"image": "busybox", "script": script}, **extra}
    if deps:
        body["dependencies"] = list(deps)
    return body


def build(script: str) -> dict[str, Any]:
    return run_step(
        "build",
        script,
        workspaces=[{"name": "src", "mountPath": "/work"}],
        artifacts={
            "outputs": [{"name": "dist", "path": "dist/app.txt", "source": {"workspace": "src"}}]
        },
    )


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_file_passes_from_one_step_to_the_next(zf: Running) -> None:
    check = (
        'test "$ZENFLOW_ARTIFACT_APP" = /in/dist/app.txt\n'
        'grep -qx "hello from build" "$ZENFLOW_ARTIFACT_APP"\n'
        'test -f "/in/{{ steps.build.artifacts.dist.path }}"\n'
    )
    flow = jobflow(
        "pass",
        [
            build("set -e\nmkdir -p /work/dist\nprintf 'hello from build\\n' > /work/dist/app.txt"),
            run_step(
                "test",
                "set -e\n" + check,
                "build",
                workspaces=[{"name": "src", "mountPath": "/in", "readOnly": True}],
                artifacts={
                    "inputs": [{"name": "app", "from": {"step": "build", "artifact": "dist"}}]
                },
            ),
        ],
        workspaces=[CLAIM],
    )
    created = await zf.create(flow)
    done = await zf.wait_phase("pass")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    (record,) = step_status(done, "build")["artifacts"]
    assert record == {
        "name": "dist",
        "size": len(CONTENT),
        "digest": "sha256:" + hashlib.sha256(CONTENT.encode()).hexdigest(),
    }
    claim = await zf.core.read_namespaced_persistent_volume_claim("pass-src", zf.namespace)
    (owner,) = claim.metadata.owner_references
    assert owner.uid == created["metadata"]["uid"]
    assert claim.metadata.labels["jobflow"] == "pass"


async def test_a_missing_artifact_fails_its_producer(zf: Running) -> None:
    flow = jobflow(
        "missing",
        [
            build("mkdir -p /work/dist"),
            run_step(
                "test",
                "true",
                "build",
                workspaces=[{"name": "src", "mountPath": "/in"}],
                artifacts={
                    "inputs": [{"name": "app", "from": {"step": "build", "artifact": "dist"}}]
                },
            ),
        ],
        workspaces=[CLAIM],
    )
    await zf.create(flow)
    done = await zf.wait_phase("missing")
    status = done["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "StepFailed")
    failed = step_status(done, "build")
    assert (failed["phase"], failed["reason"]) == ("Failed", "ArtifactMissing")
    assert "output artifact 'dist' (dist/app.txt in workspace \"src\")" in failed["message"]
    assert step_status(done, "test")["phase"] == "Skipped"
    assert "ArtifactMissing" in status["message"]


async def test_writers_of_a_read_write_once_claim_never_run_together(zf: Running) -> None:
    # Each writer takes a lock directory in the claim: had the other been running, mkdir fails.
    script = "set -e\nmkdir /w/lock\nsleep 1\nrmdir /w/lock"
    writer = {"workspaces": [{"name": "src", "mountPath": "/w"}]}
    flow = jobflow(
        "serial",
        [run_step("a", script, **writer), run_step("b", script, **writer)],
        workspaces=[CLAIM],
    )
    await zf.create(flow)
    done = await zf.wait_phase("serial")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    a, b = step_status(done, "a"), step_status(done, "b")
    first, second = sorted((a, b), key=lambda s: _ts(s["startTime"]))
    assert _ts(first["completionTime"]) <= _ts(second["startTime"])
