"""Step logs on the real control plane: flows whose steps run as local processes (exec mode),
the controller in-process, logs read only through the API server's ``pods/log``.

Aspects: ``kubectl logs`` of a step's pod and of its Job returns what the step printed;
``kubectl jobflow logs`` of a 3-step flow prints every step's lines prefixed with the step, in
DAG order (not spec order), and one step alone; ``-f`` streams a running step's lines as they
are written, picks up the step that starts after it, and ends when the flow ends;
``status`` shows the end of a failed step's log under its row and ``logs`` says why a skipped
step has none (``-f`` of an ended flow prints the same); a user whose RBAC lacks ``pods/log``
gets the API server's refusal and what is needed, exit 1 (``status`` shows the refusal in place
of the failed step's log).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from tests.support.jobflows import Running, jobflow, running_controller
from zenflow.cli import jobflow_plugin
from zenflow.envtest import ControlPlane

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def running(kube_config: client.Configuration, namespace: str) -> AsyncIterator[Running]:
    async with running_controller(kube_config, namespace) as ctl:
        yield ctl


def shell(name: str, script: str, *deps: str, **extra: Any) -> dict[str, Any]:
    """A step running ``sh -c script`` on the local node."""
    step: dict[str, Any] = {
        "name": name,
        "run": {"image": "busybox", "command": ["sh", "-c", script]},
    }
    if deps:
        step["dependencies"] = list(deps)
    step.update(extra)
    return step


def flags(plane: ControlPlane, running: Running, kubeconfig: Path | None = None) -> list[str]:
    config = str(kubeconfig or plane.kubeconfig_path)
    return ["--kubeconfig", config, "-n", running.namespace, "--no-color"]


async def plugin(
    plane: ControlPlane, running: Running, *argv: str, kubeconfig: Path | None = None
) -> int:
    args = jobflow_plugin.build_parser().parse_args([*argv, *flags(plane, running, kubeconfig)])
    return await jobflow_plugin.run_args(args)


def phase(obj: dict[str, Any]) -> str:
    return str((obj.get("status") or {}).get("phase"))


async def test_logs_of_a_three_step_flow_in_dag_order(
    control_plane: ControlPlane, running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    # Declared last-first: the output follows the DAG, not the spec.
    steps = [
        shell("publish", "echo published", "transform"),
        shell("transform", "echo transformed 1; echo transformed 2", "fetch"),
        shell("fetch", "echo fetched >&2"),  # stderr is in the log too
    ]
    await running.create(jobflow("etl", steps))
    assert phase(await running.wait_phase("etl")) == "Succeeded"
    capsys.readouterr()

    assert await plugin(control_plane, running, "logs", "etl") == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "fetch     | fetched",
        "transform | transformed 1",
        "transform | transformed 2",
        "publish   | published",
    ]
    assert await plugin(control_plane, running, "logs", "etl", "transform", "--tail", "1") == 0
    assert capsys.readouterr().out.splitlines() == ["transform | transformed 2"]

    (job,) = [j for j in await running.jobs("etl") if j["metadata"]["name"] == "etl-fetch-1"]
    pods = await running.get_json(
        f"/api/v1/namespaces/{running.namespace}/pods",
        [("labelSelector", f"job-name={job['metadata']['name']}")],
    )
    pod = pods["items"][0]["metadata"]["name"]
    ns = running.namespace
    assert control_plane.kubectl("logs", "-n", ns, pod).stdout == "fetched\n"
    assert control_plane.kubectl("logs", "-n", ns, "job/etl-transform-1").stdout == (
        "transformed 1\ntransformed 2\n"
    )


async def _readline(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 60)).decode()


async def test_follow_streams_and_picks_up_a_later_step(
    control_plane: ControlPlane, running: Running, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    wait = f"echo waiting; while [ ! -e {gate} ]; do sleep 0.05; done; echo released"
    await running.create(
        jobflow("slow", [shell("first", wait), shell("later", "echo later ran", "first")])
    )
    follow = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zenflow.cli.jobflow_plugin", "logs", "slow", "-f",
        *flags(control_plane, running),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert follow.stdout is not None
    try:
        assert await _readline(follow.stdout) == "first | waiting\n"
        # "first" waits on the gate: the stream stays open, "later" has not started.
        assert follow.returncode is None
        gate.touch()
        assert await _readline(follow.stdout) == "first | released\n"
        assert await _readline(follow.stdout) == "later | later ran\n"
        assert await asyncio.wait_for(follow.wait(), 60) == 0
    finally:
        if follow.returncode is None:
            follow.kill()
            await follow.wait()
    assert phase(await running.get("slow")) == "Succeeded"


async def test_a_failed_step_shows_its_log_and_a_skipped_one_says_why(
    control_plane: ControlPlane, running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [
        shell("bad", "echo connecting; echo 'error: connection refused' >&2; exit 3"),
        shell("after", "echo never", "bad"),
    ]
    await running.create(jobflow("broken", steps))
    assert phase(await running.wait_phase("broken")) == "Failed"
    capsys.readouterr()

    assert await plugin(control_plane, running, "status", "broken") == 0
    table = capsys.readouterr().out.splitlines()
    row = next(i for i, line in enumerate(table) if line.startswith("bad "))
    # stdout and stderr are two streams: their relative order is not fixed (nor with a kubelet).
    assert sorted(table[row + 1 : row + 3]) == [
        "    │ connecting",
        "    │ error: connection refused",
    ]

    assert await plugin(control_plane, running, "logs", "broken") == 0
    captured = capsys.readouterr()
    assert sorted(captured.out.splitlines()) == [
        "bad   | connecting",
        "bad   | error: connection refused",
    ]
    assert "after | (skipped:" in captured.err
    # Following a flow that has ended shows the same, in the same order, and ends.
    assert await plugin(control_plane, running, "logs", "broken", "-f") == 0
    assert capsys.readouterr() == captured


async def test_without_pods_log_permission_the_refusal_is_clear(
    control_plane: ControlPlane,
    running: Running,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await running.create(jobflow("secret", [shell("only", "echo classified; exit 1")]))
    assert phase(await running.wait_phase("secret")) == "Failed"
    ns = running.namespace
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "flow-reader", "namespace": ns},
        "rules": [
            {"apiGroups": ["workflow.zen.io"], "resources": ["jobflows"], "verbs": ["get", "list"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "flow-reader", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "flow-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
    control_plane.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"kind": "List", "apiVersion": "v1", "items": [role, binding]}),
    )
    alice = control_plane.write_kubeconfig(
        tmp_path / "alice", token=control_plane.tokens["alice"], user="alice"
    )
    capsys.readouterr()
    assert await plugin(control_plane, running, "logs", "secret", kubeconfig=alice) == 1
    err = capsys.readouterr().err
    assert 'User "alice" cannot get resource "pods/log"' in err
    assert "reading step logs needs get on jobflows and pods/log" in err
    assert "Traceback" not in err
    # status still works; the failed step's log is replaced by the refusal.
    assert await plugin(control_plane, running, "status", "secret", kubeconfig=alice) == 0
    table = capsys.readouterr().out
    assert '    │ (log unavailable: pods "secret-only-1-' in table
    assert "classified" not in table
