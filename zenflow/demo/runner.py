"""``zenflow demo`` end to end: local control plane → controller → example flow → live view.

Order of work and its invariants:

1. The control plane (etcd, kube-apiserver, kube-controller-manager, node agent in exec mode) is
   started in this process's main thread with the CRDs from ``crds/`` (else generated from the
   API models) applied before kube-controller-manager starts, so deleting a flow cascades at
   once.
2. The admission webhook runs as ``zenflow webhook`` on 127.0.0.1 with a
   ValidatingWebhookConfiguration pointing at it (``demo.webhook``), and the controller as
   ``zenflow controller``; each is a child process with the control plane's kubeconfig (own
   process group, dies with us; logs in the work directory).
3. Once the API server enforces the webhook, the flow is created in namespace ``default`` and
   polled until it is Succeeded or Failed; every poll feeds the live view. With ``--ui``,
   ``zenflow ui`` (``demo.ui``) serves the web UI first and the browser is opened on it.
4. Whatever happens — success, failure, Ctrl-C (SIGINT), SIGTERM, an error — the ``finally``
   stops the controller and the webhook, then the control plane (node agent, controller
   manager, apiserver, etcd), each SIGTERM then SIGKILL, reaped; signals arriving during that
   cleanup are noted and do not cut it short. With ``--keep`` (implied by ``--ui``) all of it
   stays up after the flow ended until a signal arrives.

The summary at the end shows the last lines of each failed step's log under it (read through
the API server's ``pods/log``, which the node agent serves).

Exit status: 0 the flow Succeeded; 1 it Failed, timed out, or the demo could not run (the message
says why); 130 interrupted by SIGINT, 143 by SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
import webbrowser
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml
from kubernetes_asyncio import client

from zenflow.api.constants import GROUP, JOBFLOW_PLURAL, VERSION
from zenflow.api.crd import all_crds, render_yaml
from zenflow.demo.ui import start_ui
from zenflow.demo.webhook import start_webhook, wait_enforced
from zenflow.display.flowview import FlowView, snapshot, summary_lines
from zenflow.display.live import LiveView
from zenflow.display.logreader import StepLogReader
from zenflow.envtest import ControlPlane
from zenflow.envtest.process import ManagedProcess, tail
from zenflow.errors import ZenflowError
from zenflow.kube.client import DEFAULT_REQUEST_TIMEOUT_S, load_configuration, new_api_client
from zenflow.kube.rest import Rest

POLL_INTERVAL_S = 0.2
NAMESPACE = "default"


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``signum`` says which. A KeyboardInterrupt, so asyncio lets it
    out of any task instead of storing it as the task's result."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class DemoError(ZenflowError):
    """The demo cannot go on; the message says why."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    flow_path: Path
    crds_dir: Path | None
    keep: bool = False
    timeout_s: float = 600.0
    ui_port: int | None = None  # serve the web UI on this port (zenflow demo --ui)


def load_flow(path: Path) -> dict[str, Any]:
    """The first JobFlow document of ``path``."""
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise DemoError(f"cannot read the flow {path}: {exc}") from exc
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "JobFlow":
            return doc
    raise DemoError(f"{path} holds no JobFlow")


def controller_argv(kubeconfig: Path) -> list[str]:
    return [
        sys.executable, "-m", "zenflow", "controller",
        "--kubeconfig", str(kubeconfig),
        "--no-leader-election",
        "--no-webhook",  # the demo runs `zenflow webhook` as its own process (demo/webhook.py)
        "--http-host", "127.0.0.1", "--http-port", "0",
        "--log-format", "json",
    ]  # fmt: skip


def inspect_lines(name: str, *, plane: ControlPlane, keep: bool) -> list[str]:
    """How to look at the flow with kubectl (the cluster outlives the demo only with --keep)."""
    lines = ["", "Inspect it with kubectl:"]
    if keep:
        lines += [
            f"  export KUBECONFIG={plane.kubeconfig_path}",
            # kubectl of the pinned release, and kubectl-jobflow next to this Python.
            f"  export PATH={plane.binaries_dir}:{Path(sys.executable).parent}:$PATH",
        ]
    lines += [
        f"  kubectl get jobflow {name}",
        f"  kubectl describe jobflow {name}",
        f"  kubectl get jobs -l jobflow={name}",
        f"  kubectl jobflow status {name}",
        f"  kubectl jobflow logs {name}",
    ]
    if not keep:
        lines.append("  (run `zenflow demo --keep` to keep the cluster up for that)")
    return lines


class Demo:
    """One run of the demo; ``run`` returns the exit status."""

    def __init__(self, options: DemoOptions, *, out: TextIO, err: TextIO) -> None:
        self.options = options
        self.out, self.err = out, err
        self.plane: ControlPlane | None = None
        self.controller: ManagedProcess | None = None
        self.webhook: ManagedProcess | None = None
        self.ui: ManagedProcess | None = None
        self._generated: tempfile.TemporaryDirectory[str] | None = None
        self._cleaning = False

    # -- signals -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._cleaning:
            self.err.write(f"\n{signal.Signals(signum).name}: already stopping, please wait\n")
            return
        raise Interrupted(signum)

    def run(self) -> int:
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            return self._run()
        except Interrupted as exc:
            self.err.write(f"\nzenflow demo: {exc}, stopping everything\n")
            return 128 + exc.signum
        except DemoError as exc:
            self.err.write(f"zenflow demo: {exc}\n")
            return 1
        except ZenflowError as exc:
            self.err.write(f"zenflow demo: {exc}\n")
            return 1
        finally:
            self._cleaning = True
            self._cleanup()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _cleanup(self) -> None:
        for proc in (self.ui, self.controller, self.webhook):
            if proc is not None:
                proc.stop()
        if self.plane is not None:
            self.plane.stop()
            self.err.write("zenflow demo: controller, webhook and control plane stopped\n")
        if self._generated is not None:
            self._generated.cleanup()

    # -- the work ------------------------------------------------------------------------------

    def _run(self) -> int:
        flow = load_flow(self.options.flow_path)
        self.out.write("zenflow demo: starting a local control plane (etcd, kube-apiserver, "
                       "kube-controller-manager, node agent)...\n")  # fmt: skip
        self.out.flush()
        self.plane = plane = ControlPlane(
            node_agent=True, node_agent_mode="exec", crds_dir=self._crds_dir()
        )
        plane.start()
        crds = plane.crds
        self.out.write(
            f"zenflow demo: control plane ready in {plane.started_in_s:.1f}s "
            f"({len(crds)} CRDs applied); starting the admission webhook and the controller\n"
        )
        self.out.flush()
        self.webhook = start_webhook(plane)
        self.controller = ManagedProcess(
            name="controller",
            argv=controller_argv(plane.kubeconfig_path),
            log_path=plane.log_path("controller"),
        )
        self.controller.start()
        wait_enforced(plane, self.webhook)
        if self.options.ui_port is not None:
            self.ui, url = start_ui(plane, port=self.options.ui_port)
            self.out.write(f"zenflow demo: the web UI is at {url}\n")
            self.out.flush()
            webbrowser.open(url)
        code, view, tails = asyncio.run(self._follow(flow))
        summary = summary_lines(view, now=datetime.now(UTC), logs=tails)
        self.out.write("\n" + "\n".join(summary) + "\n")
        keep = self.options.keep or self.ui is not None
        self.out.write("\n".join(inspect_lines(view.name, plane=plane, keep=keep)))
        self.out.write("\n")
        if code != 0:
            self.err.write(f"zenflow demo: the flow ended {view.phase}: {view.message}\n")
        if keep:
            try:
                self._wait_for_signal(plane)
            except Interrupted:
                self.err.write("\nzenflow demo: stopping the kept cluster\n")
        return code

    def _crds_dir(self) -> Path:
        if self.options.crds_dir is not None and any(self.options.crds_dir.glob("*.y*ml")):
            return self.options.crds_dir
        self._generated = tempfile.TemporaryDirectory(prefix="zenflow-demo-crds-")
        generated = Path(self._generated.name)
        for file_name, crd in all_crds().items():
            (generated / file_name).write_text(render_yaml(crd), encoding="utf-8")
        return generated

    async def _follow(self, flow: dict[str, Any]) -> tuple[int, FlowView, dict[str, list[str]]]:
        """Follow the flow until it ends: exit code, last view, and the end of each failed
        step's log (shown under it in the summary)."""
        assert self.plane is not None
        cfg = await load_configuration(str(self.plane.kubeconfig_path))
        api = new_api_client(cfg, pool_size=4)
        objects = client.CustomObjectsApi(api)
        try:
            created = await self._create(objects, flow)
            name = created["metadata"]["name"]
            began = datetime.now(UTC)
            live = LiveView(self.out, started=began)
            live.note(f"zenflow demo: JobFlow {NAMESPACE}/{name} created; following it live\n")
            deadline = time.monotonic() + self.options.timeout_s
            while True:
                self._check_controller()
                obj = await objects.get_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, JOBFLOW_PLURAL, name,
                    _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
                )  # fmt: skip
                view = snapshot(obj)
                live.update(view, now=datetime.now(UTC))
                if view.finished_phase:
                    tails = await StepLogReader(Rest(api), NAMESPACE).failed_tails(obj)
                    return (0 if view.phase == "Succeeded" else 1), view, tails
                if time.monotonic() > deadline:
                    raise DemoError(
                        f"the flow did not finish within {self.options.timeout_s:.0f}s "
                        f"(phase {view.phase}, progress {view.progress})"
                    )
                await asyncio.sleep(POLL_INTERVAL_S)
        finally:
            await api.close()

    async def _create(self, objects: client.CustomObjectsApi, flow: dict[str, Any]) -> Any:
        body = {**flow, "metadata": {**(flow.get("metadata") or {}), "namespace": NAMESPACE}}
        try:
            return await objects.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, JOBFLOW_PLURAL, body,
                _request_timeout=DEFAULT_REQUEST_TIMEOUT_S,
            )  # fmt: skip
        except client.ApiException as exc:
            detail = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body)
            raise DemoError(f"the API server refused the flow: {exc.status} {detail}") from exc

    def _check_controller(self) -> None:
        assert self.controller is not None
        code = self.controller.exit_code()
        if code is not None:
            raise DemoError(
                f"the controller exited with code {code}; last lines of its log:\n"
                f"{tail(self.controller.log_path)}"
            )

    def _wait_for_signal(self, plane: ControlPlane) -> None:
        self.out.write(
            "\nzenflow demo: the control plane and the controller keep running (--keep); "
            "press Ctrl-C to stop them.\n"
            f"export KUBECONFIG={plane.kubeconfig_path}\n"
        )
        self.out.flush()
        while True:
            self._check_controller()
            time.sleep(0.5)


def run_demo(options: DemoOptions, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    return Demo(options, out=out or sys.stdout, err=err or sys.stderr).run()
