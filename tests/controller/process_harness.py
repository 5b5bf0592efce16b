"""Helpers for tests that run ``zenflow controller`` as a child process and count the Jobs it
creates with an informer of their own (crash and fault-injection tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from zenflow.controller.listwatch import jobs_lister_watcher
from zenflow.machinery.informer import Informer


class ControllerProcess:
    """``zenflow controller`` as a child process, restartable, logging to a file."""

    def __init__(
        self, *, kubeconfig: Path, namespace: str, log: Path, leader_election: bool = False
    ) -> None:
        election = (
            [
                "--leader-election",
                "--leader-election-namespace",
                namespace,
                "--lease-duration",
                "3",
                "--renew-deadline",
                "2",
                "--retry-period",
                "0.5",
            ]
            if leader_election
            else ["--no-leader-election"]
        )
        self.argv = [
            sys.executable,
            "-m",
            "zenflow",
            "controller",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            *election,
            "--no-webhook",
            "--http-port",
            "0",
            "--log-level",
            "warning",
        ]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ}
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class JobTracker:
    """An informer of its own recording every uid each Job name ever had."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.created: dict[str, set[str]] = {}
        self.informer = Informer(jobs_lister_watcher(api, namespace=namespace))
        self.informer.add_event_handler(self._seen, lambda _old, new: self._seen(new), None)

    def _seen(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.created.setdefault(meta["name"], set()).add(meta["uid"])
