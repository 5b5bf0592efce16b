"""``zenflow dev up | down | status | binaries``: a local Kubernetes control plane to try zenflow.

``up`` builds (once) or finds the binaries, starts ``zenflow.envtest.devserver`` detached, waits
until the control plane and its node agent are ready and prints the kubeconfig to export;
``status`` reports it; ``down`` stops it and checks that none of its processes remain;
``binaries`` only ensures the binaries and prints their directory.

Exit codes: 0 success (``status``: running), 1 failure, 3 ``status`` found nothing running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import yaml

from zenflow.envtest import endpoints
from zenflow.envtest.binaries import ensure_binaries
from zenflow.envtest.devserver import DevState, read_state, state_path
from zenflow.envtest.process import tail
from zenflow.errors import ZenflowError

NOT_RUNNING = 3
_UP_TIMEOUT_S = 120.0
_DOWN_TIMEOUT_S = 30.0


def default_state_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zenflow" / "dev"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start the control plane and node agent in the background")
    up.add_argument(
        "--mode",
        choices=("exec", "annotations"),
        default="exec",
        help="node agent: run pod commands as local processes (exec) or finish pods per "
        "their envtest.zenflow.io annotations",
    )
    up.add_argument(
        "--install-crds",
        nargs="?",
        const="crds",
        default=None,
        metavar="DIR",
        help="apply the CRD manifests in DIR (default: ./crds) once it is up",
    )
    up.add_argument("--timeout", type=float, default=_UP_TIMEOUT_S, help="seconds to wait")
    sub.add_parser("down", help="stop the control plane and everything it started")
    sub.add_parser("status", help="report whether it runs, where, and its processes")
    sub.add_parser("binaries", help="build or find the Kubernetes binaries; print their dir")
    for action in sub.choices.values():
        action.add_argument(
            "--state-dir",
            type=Path,
            default=default_state_dir(),
            help="where the running instance keeps its state (default: %(default)s)",
        )


def run(args: argparse.Namespace) -> int:
    actions = {"up": _up, "down": _down, "status": _status, "binaries": _binaries}
    try:
        return actions[args.dev_command](args)
    except ZenflowError as exc:
        print(f"zenflow dev {args.dev_command}: error: {exc}", file=sys.stderr)
        return 1


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _spawn_detached(argv: list[str], *, log_path: Path) -> int:
    """Start ``argv`` in a new session with output to ``log_path``; return its pid. (No Popen
    object: the process is meant to outlive this one.)"""
    return os.posix_spawn(
        argv[0],
        argv,
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def _exit_code(pid: int) -> int | None:
    """The exit code of our child ``pid`` once it has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (started by another `zenflow dev up`)
        return None if _alive(pid) else 0
    return os.waitstatus_to_exitcode(status) if done else None


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + _DOWN_TIMEOUT_S
    while time.monotonic() < deadline:
        for pid in pids:
            _exit_code(pid)  # reaps the devserver when this process started it
        if not any(_alive(pid) for pid in pids):
            return
        time.sleep(0.1)


def _running(state_dir: Path) -> DevState | None:
    """The state of a live devserver of ``state_dir``, else None (a stale file is removed)."""
    state = read_state(state_dir)
    if state is None:
        return None
    try:
        cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if _alive(state.pid) and b"zenflow.envtest.devserver" in cmdline:
        return state
    state_path(state_dir).unlink(missing_ok=True)
    return None


def _binaries(args: argparse.Namespace) -> int:
    print(ensure_binaries().directory)
    return 0


def _up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    running = _running(state_dir)
    if running is not None:
        print(
            f"zenflow dev up: already running (pid {running.pid}, "
            f"{running.apiserver_url or 'starting'}); run `zenflow dev down` first",
            file=sys.stderr,
        )
        return 1
    ensure_binaries()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "devserver.log"
    argv = [sys.executable, "-m", "zenflow.envtest.devserver", "--state-dir", str(state_dir)]
    argv += ["--mode", args.mode]
    if args.install_crds:
        argv += ["--crds", str(Path(args.install_crds).resolve())]
    pid = _spawn_detached(argv, log_path=log_path)
    deadline = time.monotonic() + args.timeout
    while True:
        code = _exit_code(pid)
        if code is not None:
            print(
                f"zenflow dev up: the control plane failed to start (exit {code}); "
                f"last lines of {log_path}:\n{tail(log_path)}",
                file=sys.stderr,
            )
            return 1
        state = read_state(state_dir)
        if state is not None and state.phase == "ready":
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGTERM)
            _wait_gone([pid])
            print(
                f"zenflow dev up: not ready after {args.timeout:.0f}s; stopped it. "
                f"Last lines of {log_path}:\n{tail(log_path)}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.2)
    print(
        f"zenflow dev: control plane ready at {state.apiserver_url} in {state.start_seconds:.1f}s"
    )
    print(f"  node agent: {state.node_agent_mode} mode; logs in {state.work_dir}")
    if state.crds:
        print(f"  applied: {', '.join(state.crds)}")
    print(f"  kubeconfig: {state.kubeconfig}")
    print(f"export KUBECONFIG={state.kubeconfig}")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = _running(args.state_dir)
    if state is None:
        print("zenflow dev: down")
        return NOT_RUNNING
    if state.phase != "ready":
        print(f"zenflow dev: starting (pid {state.pid})")
        return 0
    token = _admin_token(Path(state.kubeconfig))
    status, _ = endpoints.https_get(
        f"{state.apiserver_url}/readyz", ca_path=Path(state.ca_cert), token=token
    )
    health = "ready" if status == 200 else f"not ready (/readyz answered {status or 'nothing'})"
    print(f"zenflow dev: up (pid {state.pid}), apiserver {state.apiserver_url} {health}")
    print(f"  kubeconfig: {state.kubeconfig}")
    for name, pid in state.processes.items():
        print(f"  {name:<24} pid {pid:<8} {'running' if _alive(pid) else 'EXITED'}")
    return 0


def _admin_token(kubeconfig: Path) -> str:
    doc = yaml.safe_load(kubeconfig.read_text())
    token: str = doc["users"][0]["user"]["token"]
    return token


def _down(args: argparse.Namespace) -> int:
    state = _running(args.state_dir)
    if state is None:
        print("zenflow dev: not running")
        return 0
    os.kill(state.pid, signal.SIGTERM)
    pids = [state.pid, *state.processes.values()]
    _wait_gone(pids)
    left = [pid for pid in pids if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    if left:
        print(f"zenflow dev down: killed processes that ignored SIGTERM: {left}", file=sys.stderr)
    state_path(args.state_dir).unlink(missing_ok=True)
    print(f"zenflow dev: stopped ({len(pids)} processes)")
    return 0
