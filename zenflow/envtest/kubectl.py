"""The pinned ``kubectl`` against a local control plane: running it, and applying manifests.

``run_kubectl`` raises ``KubectlError`` (with what kubectl said) when asked to check;
``apply_manifests`` server-side applies every YAML file of a directory and waits until the CRDs
among them are Established.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from zenflow.errors import ControlPlaneError

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


class KubectlError(ControlPlaneError):
    """``kubectl`` exited non-zero; ``stderr`` holds what it said."""

    def __init__(self, message: str, *, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def run_kubectl(
    binary: Path,
    kubeconfig: Path,
    *args: str,
    input: str | None = None,
    check: bool = True,
    as_token: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``kubectl --kubeconfig KUBECONFIG [--token T] ARGS``."""
    argv = [str(binary), "--kubeconfig", str(kubeconfig)]
    if as_token is not None:
        argv += ["--token", as_token]
    result = subprocess.run(
        [*argv, *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise KubectlError(
            f"kubectl {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}",
            returncode=result.returncode,
            stdout=result.stdout,
            stderr=result.stderr,
        )
    return result


def apply_manifests(kubectl: Kubectl, directory: Path, *, timeout: float) -> list[str]:
    """Apply the YAML files in ``directory`` (none if it is missing or empty) and wait until
    their CRDs are Established; the applied objects' names (``kind.group/name``)."""
    files = sorted(directory.glob("*.y*ml")) if directory.is_dir() else []
    if not files:
        return []
    # Server-side apply: big CRDs overflow the client-side last-applied annotation.
    applied: list[str] = kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=zenflow-envtest",
        "-o",
        "name",
        *(arg for path in files for arg in ("-f", str(path))),
    ).stdout.split()
    crds = [name for name in applied if name.startswith("customresourcedefinition")]
    if crds:
        kubectl(
            "wait",
            "--for=condition=Established",
            f"--timeout={timeout:.0f}s",
            *crds,
            timeout=timeout + 10,
        )
    return applied
