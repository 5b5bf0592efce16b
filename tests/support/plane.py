"""Helpers for tests that stop the shared control plane's apiserver (integration only).

After kube-apiserver restarts, kube-controller-manager's watches reconnect with their own backoff;
until they do, a new namespace gets no default ServiceAccount. Tests that restart the apiserver
wait for that recovery before returning, so later tests find a working control plane.
"""

from __future__ import annotations

import secrets
import time

from zenflow.envtest.controlplane import ControlPlane


def wait_for_controller_manager(control_plane: ControlPlane, *, within: float = 180.0) -> None:
    """Create a scratch namespace and wait until its default ServiceAccount exists."""
    name = f"probe-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = control_plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False)
            if got.returncode == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"kube-controller-manager did not recover within {within}s")
    finally:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def start_apiserver_and_recover(control_plane: ControlPlane) -> None:
    control_plane.start_apiserver()
    wait_for_controller_manager(control_plane)
