"""The background process behind ``zenflow dev up``: owns one ControlPlane until told to stop.

Run detached by ``zenflow dev up`` as ``python -m zenflow.envtest.devserver --state-dir DIR``.
It starts the control plane with its work directory in ``DIR/cluster`` (so the kubeconfig path is
stable), writes ``DIR/state.json`` ("starting", then "ready" with URL, kubeconfig and the pids of
every process), and on SIGTERM/SIGINT, or when one of its processes dies, stops everything and
removes the state file (and the cluster directory, unless it failed: its logs stay for a look).

Invariant: a state file exists only while its devserver process is alive (it is removed before
exit; a crash leaves a file whose pid is dead, which ``zenflow dev`` treats as down).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Literal

from pydantic import BaseModel

from zenflow.envtest.controlplane import ControlPlane
from zenflow.envtest.flags import NodeAgentMode
from zenflow.errors import ZenflowError


class DevState(BaseModel):
    """What ``zenflow dev status`` and ``down`` know about a running devserver."""

    pid: int
    phase: Literal["starting", "ready"]
    started_at: float
    node_agent_mode: str
    apiserver_url: str = ""
    kubeconfig: str = ""
    ca_cert: str = ""
    work_dir: str = ""
    start_seconds: float = 0.0
    processes: dict[str, int] = {}
    crds: list[str] = []


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def read_state(state_dir: Path) -> DevState | None:
    try:
        return DevState.model_validate_json(state_path(state_dir).read_text())
    except (OSError, ValueError):
        return None


def write_state(state_dir: Path, state: DevState) -> None:
    partial = state_dir / ".state.json.partial"
    partial.write_text(state.model_dump_json(indent=2))
    partial.chmod(0o600)
    partial.replace(state_path(state_dir))


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m zenflow.envtest.devserver")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--mode", choices=("exec", "annotations"), default="exec")
    parser.add_argument("--crds", type=Path, default=None, help="apply the CRDs in this dir")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    state_dir: Path = args.state_dir
    mode: NodeAgentMode = args.mode
    state_dir.mkdir(parents=True, exist_ok=True)
    cluster_dir = state_dir / "cluster"
    shutil.rmtree(cluster_dir, ignore_errors=True)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state = DevState(
        pid=os.getpid(), phase="starting", started_at=time.time(), node_agent_mode=mode
    )
    write_state(state_dir, state)
    # CRDs are applied before kube-controller-manager starts: its garbage collector then
    # follows owner references to them (a deleted JobFlow's Jobs go at once).
    plane = ControlPlane(
        node_agent=True, node_agent_mode=mode, work_dir=cluster_dir, crds_dir=args.crds
    )
    code = 0
    try:
        plane.start()
        crds = plane.crds
        state = state.model_copy(
            update={
                "phase": "ready",
                "apiserver_url": plane.apiserver_url,
                "kubeconfig": str(plane.kubeconfig_path),
                "ca_cert": str(plane.ca_cert_path),
                "work_dir": str(plane.work_dir),
                "start_seconds": plane.started_in_s,
                "processes": plane.processes,
                "crds": crds,
            }
        )
        write_state(state_dir, state)
        print(f"devserver: ready at {plane.apiserver_url}", file=sys.stderr, flush=True)
        code = _serve(plane, stop)
    except ZenflowError as exc:
        print(f"devserver: error: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        plane.stop()
        state_path(state_dir).unlink(missing_ok=True)
        if code == 0:
            shutil.rmtree(cluster_dir, ignore_errors=True)
        else:  # the logs say what went wrong; the next `zenflow dev up` removes them
            print(f"devserver: logs kept in {cluster_dir}", file=sys.stderr, flush=True)
        print("devserver: stopped", file=sys.stderr, flush=True)
    return code


def _serve(plane: ControlPlane, stop: threading.Event) -> int:
    """Wait for a stop signal; return 1 early if one of the processes dies."""
    expected = set(plane.processes)
    while not stop.wait(1.0):
        gone = expected - set(plane.processes)
        if gone:
            print(
                f"devserver: error: {', '.join(sorted(gone))} exited; stopping the rest "
                f"(see the logs in {plane.work_dir})",
                file=sys.stderr,
                flush=True,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
