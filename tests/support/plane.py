"""Helpers for tests that stop the shared control plane's apiserver (integration only).

After kube-apiserver restarts, kube-controller-manager's watches reconnect with their own backoff;
until they do, a new namespace gets no default ServiceAccount. Tests that restart the apiserver
wait for that recovery before returning, so later tests find a working control plane.
"""

from __future__ import annotations

import secrets

from tests.support.wait import eventually_sync
from zenflow.envtest.controlplane import ControlPlane


def wait_for_controller_manager(control_plane: ControlPlane, *, within: float = 180.0) -> None:
    """Create a scratch namespace and wait until its default ServiceAccount exists."""
    name = f"probe-{secrets.token_hex(3)}"
    control_plane.kubectl("create", "namespace", name)

    def has_default_service_account() -> bool:
        got = control_plane.kubectl("get", "serviceaccount", "default", "-n", name, check=False)
        return got.returncode == 0

    try:
        eventually_sync(
            has_default_service_account,
            what="kube-controller-manager recovered (a new namespace's default ServiceAccount)",
            within=within,
            interval=0.5,
        )
    finally:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def start_apiserver_and_recover(control_plane: ControlPlane) -> None:
    control_plane.start_apiserver()
    wait_for_controller_manager(control_plane)
