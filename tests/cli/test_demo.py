"""``zenflow demo`` (zenflow.cli.demo, zenflow.demo):

Unit: the live view writes one stamped line per transition when not on a terminal and redraws
the table in place on one; the controller and webhook command lines are accepted by the
``zenflow controller`` and ``zenflow webhook`` parsers; the flow file is found or the error names
it.

Integration (real binaries, run as a subprocess with stdout not a TTY): the demo runs the example
flow to completion, exits 0 and prints a summary saying Succeeded, leaving no process behind; a
run interrupted by SIGINT (SIGTERM) mid-flow exits 130 (143) and every process it started
(controller, node agent and its pods, webhook, kube-controller-manager, kube-apiserver, etcd) is
gone; a failing flow (``--flow``) exits 1 and the message names the failed step.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.processes import descendants
from tests.support.wait import eventually_sync
from zenflow.cli import controller as controller_cli
from zenflow.cli import demo as demo_cli
from zenflow.cli import webhook as webhook_cli
from zenflow.controller.settings import settings_from_args
from zenflow.demo.runner import DemoError, controller_argv, load_flow
from zenflow.demo.webhook import webhook_argv
from zenflow.display.flowview import snapshot
from zenflow.display.live import LiveView
from zenflow.webhook.options import options_from_args

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
FLOW = {
    "metadata": {"name": "demo", "namespace": "default"},
    "spec": {"steps": [{"name": "a"}, {"name": "b", "dependencies": ["a"]}]},
}


def with_status(**steps: str) -> dict[str, object]:
    return {
        **FLOW,
        "status": {
            "phase": "Running",
            "steps": [{"name": n, "phase": p, "attempt": 1} for n, p in steps.items()],
        },
    }


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_live_view_prints_transitions_when_not_a_terminal() -> None:
    out = io.StringIO()
    view = LiveView(out, started=T0)
    assert not view.tty
    view.update(snapshot(FLOW), now=T0)
    view.update(snapshot(with_status(a="Running")), now=T0 + timedelta(seconds=1.5))
    view.update(snapshot(with_status(a="Running")), now=T0 + timedelta(seconds=2))
    assert out.getvalue().splitlines() == [
        "[   0.0s] flow demo: - -> Pending (0/2)",
        "[   1.5s] step a: Pending -> Running (attempt 1)",
        "[   1.5s] flow demo: Pending -> Running (0/2)",
    ]


def test_live_view_redraws_in_place_on_a_terminal() -> None:
    out = FakeTTY()
    view = LiveView(out, started=T0)
    assert view.tty
    view.update(snapshot(FLOW), now=T0)
    first = out.getvalue()
    assert "\x1b[" in first
    assert "\x1b[4F" not in first  # nothing to erase yet
    view.update(snapshot(with_status(a="Succeeded")), now=T0)
    second = out.getvalue()[len(first) :]
    assert second.startswith("\x1b[4F\x1b[J")  # header + column titles + 2 steps
    view.note("hello")
    assert out.getvalue().endswith("\x1b[4F\x1b[Jhello\n")


def test_controller_command_line_is_valid_for_zenflow_controller(tmp_path: Path) -> None:
    argv = controller_argv(tmp_path / "kubeconfig")
    assert argv[:4] == [sys.executable, "-m", "zenflow", "controller"]
    parser = argparse.ArgumentParser()
    controller_cli.add_arguments(parser)
    args = parser.parse_args(argv[4:])
    settings = settings_from_args(args, env={})
    assert settings.kubeconfig == str(tmp_path / "kubeconfig")
    assert not settings.leader_election
    assert settings.http_port == 0
    assert args.no_webhook, "the demo serves the webhook as its own process"


def test_webhook_command_line_is_valid_for_zenflow_webhook(tmp_path: Path) -> None:
    argv = webhook_argv(tmp_path / "kubeconfig", 9555)
    assert argv[:4] == [sys.executable, "-m", "zenflow", "webhook"]
    parser = argparse.ArgumentParser()
    webhook_cli.add_arguments(parser)
    args = parser.parse_args(argv[4:])
    options = options_from_args(args)
    assert args.kubeconfig == str(tmp_path / "kubeconfig")
    assert (options.bind_address, options.port) == ("127.0.0.1", 9555)
    assert "127.0.0.1" in options.hosts
    assert options.config_name == "zenflow-demo"


def test_load_flow(tmp_path: Path) -> None:
    assert load_flow(Path(demo_cli._default("examples/demo.yaml")))["kind"] == "JobFlow"
    empty = tmp_path / "x.yaml"
    empty.write_text("kind: ConfigMap\n")
    with pytest.raises(DemoError, match="holds no JobFlow"):
        load_flow(empty)
    with pytest.raises(DemoError, match="cannot read the flow"):
        load_flow(tmp_path / "missing.yaml")


# -- integration --------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class DemoProcess:
    """``zenflow demo`` as a subprocess whose output and descendants are collected."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zenflow", "demo", "--timeout", "240", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=Path(demo_cli.__file__).resolve().parents[2],
        )
        self.lines: list[str] = []
        self.seen: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def sample(self) -> None:
        self.seen |= descendants(self.proc.pid)

    def wait_for(self, text: str, *, within: float) -> None:
        def printed() -> bool:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                pytest.fail(f"exited before {text!r}:\n" + "\n".join(self.lines))
            self.sample()
            return False

        try:
            eventually_sync(printed, what=repr(text), within=within, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc} in:\n" + "\n".join(self.lines)) from None

    def finish(self, *, within: float) -> int:
        def ended() -> bool:
            self.sample()
            return self.proc.poll() is not None

        try:
            eventually_sync(ended, what="the demo's end", within=within, interval=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n" + "\n".join(self.lines)) from None
        self.close()
        return self.proc.returncode

    def close(self) -> None:
        """Kill the demo if a failed assertion left it running; close the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def leftovers(self, *, within: float = 10.0) -> list[int]:
        """The descendants still alive once they had ``within`` seconds to go (a process just
        killed takes a moment to be reaped); [] as soon as none is."""

        def remaining() -> bool:
            return not any(alive(pid) for pid in self.seen)

        with contextlib.suppress(AssertionError):  # the caller asserts the list, naming pids
            eventually_sync(remaining, what="no descendant left", within=within)
        return sorted(pid for pid in self.seen if alive(pid))


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_demo_runs_the_flow_to_success_and_leaves_nothing() -> None:
    demo = DemoProcess()
    try:
        demo.wait_for("flow demo: Pending -> Running", within=120)
        code = demo.finish(within=240)
    finally:
        demo.close()
    output = "\n".join(demo.lines)
    assert code == 0, output
    assert "JobFlow default/demo Succeeded" in output
    assert "fetch-orders    Succeeded" in output
    assert "2 attempts" in output
    assert "kubectl get jobs -l jobflow=demo" in output
    # etcd, apiserver, controller manager, node agent, webhook, controller (and pod processes)
    assert len(demo.seen) >= 6
    assert demo.leftovers() == []


@pytest.mark.integration
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("sig", "code"),
    [
        pytest.param(signal.SIGINT, 130, id="sigint"),
        pytest.param(signal.SIGTERM, 143, id="sigterm"),
    ],
)
def test_a_signal_mid_flow_stops_everything(sig: signal.Signals, code: int) -> None:
    demo = DemoProcess()
    try:
        demo.wait_for("step fetch-users: Pending -> Running", within=120)
        demo.sample()
        demo.proc.send_signal(sig)
        exit_code = demo.finish(within=60)
    finally:
        demo.close()
    output = "\n".join(demo.lines)
    assert exit_code == code, output
    assert f"{sig.name}, stopping everything" in output
    assert "controller, webhook and control plane stopped" in output
    assert demo.leftovers() == []


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_failing_flow_exits_1_naming_the_step(tmp_path: Path) -> None:
    flow = tmp_path / "failing.yaml"
    flow.write_text(
        "apiVersion: workflow.zen.io/v1alpha1\n"
        "kind: JobFlow\n"
        "metadata: {name: failing}\n"
        "spec:\n"
        "  steps:\n"
        "    - name: breaks\n"
        "      run: {image: busybox, command: [sh, -c, 'echo broken; exit 3']}\n"
        "    - name: never\n"
        "      dependencies: [breaks]\n"
        "      run: {image: busybox, command: ['true']}\n"
    )
    demo = DemoProcess("--flow", str(flow))
    try:
        code = demo.finish(within=240)
    finally:
        demo.close()
    output = "\n".join(demo.lines)
    assert code == 1, output
    assert "JobFlow default/failing Failed" in output
    assert "zenflow demo: the flow ended Failed:" in output
    assert "breaks" in output.split("the flow ended Failed:")[1]
    assert demo.leftovers() == []
