"""A real local Kubernetes control plane for tests, the demo and ``zenflow dev`` (like
controller-runtime's envtest): etcd, kube-apiserver and kube-controller-manager of a pinned
release, built once with Go or taken from ``$KUBEBUILDER_ASSETS``, plus a node agent standing in
for the kubelet.

    with ControlPlane() as plane:
        plane.kubectl("get", "nodes")
        cfg = await plane.load_client_configuration()

pytest users register ``zenflow.envtest.pytest_plugin`` for session-wide fixtures.
"""

from zenflow.envtest.binaries import (
    ETCD_VERSION,
    K8S_VERSION,
    Binaries,
    BinariesError,
    default_cache_dir,
    ensure_binaries,
)
from zenflow.envtest.controlplane import ControlPlane, KubectlError
from zenflow.envtest.flags import NODE_NAME, NodeAgentMode
from zenflow.envtest.ports import PortInUseError

__all__ = [
    "ETCD_VERSION",
    "K8S_VERSION",
    "NODE_NAME",
    "Binaries",
    "BinariesError",
    "ControlPlane",
    "KubectlError",
    "NodeAgentMode",
    "PortInUseError",
    "default_cache_dir",
    "ensure_binaries",
]
