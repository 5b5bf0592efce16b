"""``zenflow controller`` as its own process, for the figures that belong to the process alone:
its RSS (idle, with thousands of flows cached, peak in the scale run), its CPU time, and its API
requests as its ``/metrics`` counts them.

The process runs as it would in a cluster (``python -m zenflow controller``), with leader
election off (unless ``election`` gives other flags: the sharding benchmark's) and without
the in-process admission webhook (``--no-webhook``), logging warnings
only. With ``runtime_only`` (the default) it runs as the image does, with the runtime
dependencies only (``requirements/runtime.lock``): packages the development environment adds
and that a runtime dependency imports when present — ``rich``, which structlog loads for pretty
tracebacks, about 4 MiB — are hidden from it by a stub on its ``PYTHONPATH``. RSS and peak RSS
(``VmHWM``) and CPU time come from ``/proc/<pid>``. ``source`` runs the controller of another
source tree (``benchmarks.paired``: an older revision, with this tree's virtualenv).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import REPO

DEV_ONLY = ("rich",)
"""Installed in the development environment (import-linter needs it), not in the image, and
imported by a runtime dependency when present (structlog)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ControllerProcess:
    """One ``zenflow controller`` child process against a control plane."""

    def __init__(
        self,
        plane: Any,
        *,
        namespace: str | None = None,
        log: Path | None = None,
        runtime_only: bool = True,
        election: Sequence[str] = ("--no-leader-election",),
        source: Path = REPO,
    ):
        self.port = _free_port()
        args = [
            sys.executable, "-m", "zenflow", "controller",
            "--kubeconfig", str(plane.kubeconfig_path),
            *election, "--no-webhook",
            "--http-host", "127.0.0.1", "--http-port", str(self.port),
            "--log-level", "warning", "--log-format", "json",
        ]  # fmt: skip
        if namespace:
            args += ["--namespace", namespace]
        self._log = (log or Path(os.devnull)).open("w")
        self._stubs = tempfile.TemporaryDirectory()
        env = dict(os.environ)
        if runtime_only:
            for name in DEV_ONLY:
                stub = Path(self._stubs.name, name)
                stub.mkdir()
                (stub / "__init__.py").write_text(
                    f"raise ImportError('{name} is not a runtime dependency of zenflow')\n"
                )
            env["PYTHONPATH"] = os.pathsep.join([self._stubs.name, str(source)])
        self.proc = subprocess.Popen(args, cwd=source, stdout=self._log, stderr=self._log, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, within: float = 120.0) -> None:
        """Until ``/readyz`` answers 200 (every informer synced)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"controller exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            time.sleep(0.2)
        raise TimeoutError("controller not ready")

    def status(self, field: str) -> float:
        """A ``/proc/<pid>/status`` size field (``VmRSS``, ``VmHWM``) in MiB."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(found[1]) / 1024 if found else 0.0

    def rss_mib(self) -> float:
        return self.status("VmRSS")

    def peak_mib(self) -> float:
        return self.status("VmHWM")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")

    def metrics(self) -> str:
        """The process's ``/metrics`` page."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=60) as reply:
            return str(reply.read().decode())

    def requests(self) -> dict[str, int]:
        """API requests by verb, from the process's own ``zenflow_api_requests_total``."""
        text = self.metrics()
        out: dict[str, int] = {}
        pattern = r'^zenflow_api_requests_total\{verb="(\w+)"\} (\S+)'
        for verb, value in re.findall(pattern, text, re.M):
            out[verb] = out.get(verb, 0) + int(float(value))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self._stubs.cleanup()


@contextlib.contextmanager
def controller_process(plane: Any, **kwargs: Any) -> Iterator[ControllerProcess]:
    proc = ControllerProcess(plane, **kwargs)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()
