"""Workspaces and artifacts in the planner (zenflow.core.planning.workspaces, .artifacts).

Aspects: the claim of a volumeClaimTemplate workspace is ensured before the first step, owned
by the flow (Delete) or annotated and unowned (Retain); a step's Job gets one volume per
workspace, the mounts in every container, ConfigMaps read-only, and its input artifacts' paths
(relative to its own mount and subPath); the producer's first container runs under the
reporting wrapper, and the wrapper (run for real with sh) reports sizes and digests, passes the
exit code through, and keeps the command's own termination message after the report; a
succeeded producer records its artifacts, or fails with ArtifactMissing (retried by its retry
policy, the report not asked for again); a consumer whose producer did not record the artifact
is Skipped (ArtifactMissing) unless the input is optional; two writers of a ReadWriteOnce claim
never run at once (the later one waits Pending, naming the holder) while readers and
ReadWriteMany writers do; ``{{ steps.S.artifacts.A.path }}`` renders the artifact's path.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.core.planning.driver import Driver, at, job, make_flow, record
from zenflow.core.planning.artifacts import (
    WRAPPER_NAME,
    WRAPPER_SCRIPT,
    Reported,
    split_report,
)

RWO = {
    "name": "src",
    "volumeClaimTemplate": {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
}
RWX = {
    "name": "shared",
    "volumeClaimTemplate": {
        "reclaimPolicy": "Retain",
        "metadata": {"labels": {"purpose": "cache"}},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
    },
}


def build(**extra: Any) -> dict[str, Any]:
    return job(
        "build",
        run={"image": "busybox", "script": "mkdir -p /work/dist && echo hi > /work/dist/app"},
        workspaces=[{"name": "src", "mountPath": "/work"}],
        artifacts={
            "outputs": [{"name": "dist", "path": "dist/app", "source": {"workspace": "src"}}]
        },
        **extra,
    )


def consumer(**extra: Any) -> dict[str, Any]:
    return job(
        "test",
        "build",
        run={"image": "busybox", "command": ["cat", "{{ steps.build.artifacts.dist.path }}"]},
        workspaces=[
            {"name": "src", "mountPath": "/in", "readOnly": True, "subPath": "dist"},
            {"name": "cfg", "mountPath": "/etc/app"},
        ],
        artifacts={"inputs": [{"name": "app", "from": {"step": "build", "artifact": "dist"}}]},
        **extra,
    )


def flow(*steps: dict[str, Any]) -> Driver:
    return Driver(
        make_flow(*steps, workspaces=[RWO, RWX, {"name": "cfg", "configMap": {"name": "conf"}}])
    )


def test_claims_are_ensured_before_the_first_step() -> None:
    d = flow(build(), consumer())
    result = d.step()
    claims = {r["metadata"]["name"]: r for r in result.resources}
    assert set(claims) == {"f-src", "f-shared"}
    owned = claims["f-src"]["metadata"]
    assert owned["ownerReferences"][0]["uid"] == "uid-1"
    assert owned["labels"]["workflow.zen.io/workspace"] == "src"
    kept = claims["f-shared"]["metadata"]
    assert "ownerReferences" not in kept
    assert kept["annotations"] == {"workflow.zen.io/retained-for": "uid-1"}
    assert kept["labels"]["purpose"] == "cache"
    assert kept["labels"]["jobflow"] == "f"
    assert claims["f-shared"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert d.step(now=at(1)).resources == []  # only before the first step


def test_jobs_mount_workspaces_and_producers_report_artifacts() -> None:
    d = flow(build(), consumer())
    (create,) = d.step().creates
    pod = create.manifest["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "src", "persistentVolumeClaim": {"claimName": "f-src"}}]
    (container,) = pod["containers"]
    assert container["volumeMounts"] == [{"name": "src", "mountPath": "/work"}]
    command = container["command"]
    assert command[:6] == ["sh", "-c", WRAPPER_SCRIPT, WRAPPER_NAME, "/dev/termination-log", "dist"]
    assert command[6:] == [
        "/work/dist/app",
        "--",
        "sh",
        "-c",
        "mkdir -p /work/dist && echo hi > /work/dist/app",
    ]
    d.set(record("build", "Succeeded", finished=1))
    report = {"build": {"dist": Reported(True, 3, "sha256:ab")}}
    result = d.step(now=at(2), artifacts=report)
    recorded = d.step_status("build").artifacts
    assert [(a.name, a.size, a.digest) for a in recorded] == [("dist", 3, "sha256:ab")]
    (create,) = result.creates
    pod = create.manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["cat", "dist/app"]
    assert container["env"] == [{"name": "ZENFLOW_ARTIFACT_APP", "value": "/in/app"}]
    assert container["volumeMounts"] == [
        {"name": "src", "mountPath": "/in", "readOnly": True, "subPath": "dist"},
        {"name": "cfg", "mountPath": "/etc/app", "readOnly": True},
    ]
    assert pod["volumes"][1] == {"name": "cfg", "configMap": {"name": "conf"}}
    # Recorded once: later reconciles keep the record without the report.
    d.step(now=at(3))
    assert d.step_status("build").artifacts == recorded


def test_a_missing_artifact_fails_its_producer_after_its_retries() -> None:
    d = flow(build(retryPolicy={"limit": 1}), consumer())
    d.step()
    d.set(record("build", "Succeeded", finished=1))
    missing = {"build": {"dist": Reported(False)}}
    result = d.step(now=at(2), artifacts=missing)
    assert [c.manifest["metadata"]["name"] for c in result.creates] == ["f-build-2"]
    assert d.step_status("build").phase == "Running"
    d.set(record("build", "Succeeded", attempt=2, retry_count=1, finished=3))
    d.step(now=at(4), artifacts=missing)
    failed = d.step_status("build")
    assert (failed.phase, failed.reason) == ("Failed", "ArtifactMissing")
    assert failed.message == (
        "output artifact 'dist' (dist/app in workspace \"src\") was not there when the step's "
        "container ended"
    )
    assert d.phases()["test"] == "Skipped"
    assert d.status().phase == "Failed"
    d.step(now=at(5))  # decided: no report needed again
    assert d.step_status("build").reason == "ArtifactMissing"


def test_no_report_at_all_is_a_missing_artifact() -> None:
    d = flow(build())
    d.step()
    d.set(record("build", "Succeeded", finished=1))
    d.step(now=at(2))
    assert (d.step_status("build").phase, d.step_status("build").reason) == (
        "Failed",
        "ArtifactMissing",
    )


def test_a_consumer_whose_producer_recorded_nothing_is_skipped() -> None:
    producer = build(continueOnFailure=True)
    optional = job(
        "opt",
        "build",
        workspaces=[{"name": "src", "mountPath": "/in", "readOnly": True}],
        artifacts={
            "inputs": [
                {"name": "app", "from": {"step": "build", "artifact": "dist"}, "optional": True}
            ]
        },
    )
    d = flow(producer, consumer(), optional)
    d.step()
    d.set(record("build", "Failed", finished=1))
    result = d.step(now=at(2))
    skipped = d.step_status("test")
    assert (skipped.phase, skipped.reason) == ("Skipped", "ArtifactMissing")
    assert skipped.message == (
        "input artifact 'app' (build.dist) is not available: step 'build' is Failed"
    )
    assert [c.step for c in result.creates] == ["opt"]


def test_writers_of_a_read_write_once_claim_never_run_together() -> None:
    writer = {"workspaces": [{"name": "src", "mountPath": "/w"}]}
    d = flow(
        job("a", **writer),
        job("b", **writer),
        job("reader", workspaces=[{"name": "src", "mountPath": "/w", "readOnly": True}]),
        job("many", workspaces=[{"name": "shared", "mountPath": "/s"}]),
    )
    result = d.step()
    assert sorted(c.step for c in result.creates) == ["a", "many", "reader"]
    waiting = d.step_status("b")
    assert (waiting.phase, waiting.message) == (
        "Pending",
        'waiting for workspace "src" (ReadWriteOnce): step "a" is writing it',
    )
    d.step(now=at(1))  # a still runs: b still waits
    assert d.phases()["b"] == "Pending"
    d.set(record("a", "Succeeded", finished=2))
    result = d.step(now=at(2))
    assert [c.step for c in result.creates] == ["b"]


def test_the_wrapper_reports_and_keeps_the_commands_message(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "app").write_text("hi\n")
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "a").write_text("a")
    (tmp_path / "tree" / "sub" / "b").write_text("bb")
    log = tmp_path / "termination-log"
    argv = [
        "sh", "-c", WRAPPER_SCRIPT, WRAPPER_NAME, str(log),
        "dist", str(tmp_path / "dist" / "app"),
        "tree", str(tmp_path / "tree"),
        "gone", str(tmp_path / "nothing"),
        "--", "sh", "-c", f'echo \'{{"k": "v"}}\' > {log}; echo out',
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    assert (done.returncode, done.stdout) == (0, "out\n")
    report, rest = split_report(log.read_text())
    assert report is not None
    assert report["dist"].size == 3
    assert report["dist"].digest == (
        "sha256:98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"
    )
    assert report["tree"].size == 3
    assert report["tree"].digest is not None
    assert report["gone"] == Reported(False)
    assert rest == '{"k": "v"}'
    failed = subprocess.run(
        [
            "sh",
            "-c",
            WRAPPER_SCRIPT,
            WRAPPER_NAME,
            str(tmp_path / "log2"),
            "--",
            "sh",
            "-c",
            "exit 7",
        ],
        check=False,
        timeout=30,
    )
    assert failed.returncode == 7
    assert not (tmp_path / "log2").exists()  # nothing reported for a failed command


def test_the_wrapper_survives_kubernetes_variable_expansion() -> None:
    """Kubernetes expands $(VAR) and turns $$ into $ in command and args: the script has
    neither, so it reaches the container as written."""
    assert "$(" not in WRAPPER_SCRIPT
    assert "$$" not in WRAPPER_SCRIPT
    assert "{{" not in WRAPPER_SCRIPT


def test_messages_without_a_report_are_left_alone() -> None:
    assert split_report('{"a": 1}') == (None, '{"a": 1}')
    assert split_report(None) == (None, None)
    report, rest = split_report("#zenflow-artifacts v1\nx 5 -\n#end\n")
    assert report == {"x": Reported(True, 5, None)}
    assert rest == ""
