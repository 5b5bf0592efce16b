"""Command lines of the control plane's processes, and the cluster constants they share.

The files named here (``ca.crt``, ``apiserver.crt``/``.key``, ``sa.key``/``.pub``,
``tokens.csv``, ``kube-controller-manager.kubeconfig``, and the kubelet channel's
``kubelet-ca.crt``, ``apiserver-kubelet-client.crt``/``.key``, ``nodeagent.crt``/``.key``) are
written by ``pki`` into the work directory before any process starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, Literal

NODE_NAME: Final = "zenflow-local"
SERVICE_CIDR: Final = "10.0.0.0/24"
SERVICE_IP: Final = "10.0.0.1"
SERVICE_ACCOUNT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
# Controllers the zenflow tests and demo rely on (names as `kube-controller-manager --help`
# lists them). No node-lifecycle controller: the node agent is the only judge of its node.
CONTROLLERS: Final = (
    "job-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "namespace-controller",
    "ttl-after-finished-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "resourcequota-controller",
)
NodeAgentMode = Literal["exec", "annotations"]


def etcd_argv(*, binary: Path, data_dir: Path, client_url: str, peer_port: int) -> list[str]:
    peer = f"http://127.0.0.1:{peer_port}"
    return [
        str(binary),
        "--name=default",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync=true",  # throwaway data: durability is not worth the latency
        "--log-level=warn",
    ]


def apiserver_argv(*, binary: Path, work_dir: Path, etcd_url: str, port: int) -> list[str]:
    return [
        str(binary),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={work_dir / 'apiserver.crt'}",
        f"--tls-private-key-file={work_dir / 'apiserver.key'}",
        f"--client-ca-file={work_dir / 'ca.crt'}",
        f"--token-auth-file={work_dir / 'tokens.csv'}",
        "--authorization-mode=Node,RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={work_dir / 'sa.pub'}",
        f"--service-account-signing-key-file={work_dir / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        # pods/log and friends: the node agent's log API, at the node's InternalIP and the port
        # in its status, over TLS both ways (see pki.write_kubelet_pki).
        f"--kubelet-client-certificate={work_dir / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={work_dir / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={work_dir / 'kubelet-ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
        # Loopback addresses are invalid endpoints; nothing in-cluster could route anyway.
        "--endpoint-reconciler-type=none",
        # Close watches on SIGTERM; otherwise shutdown hangs until they time out.
        "--shutdown-watch-termination-grace-period=2s",
        "--profiling=false",
        "--max-requests-inflight=800",
        "--max-mutating-requests-inflight=400",
    ]


def controller_manager_argv(*, binary: Path, work_dir: Path) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={work_dir / 'kube-controller-manager.kubeconfig'}",
        f"--controllers={','.join(CONTROLLERS)}",
        f"--service-account-private-key-file={work_dir / 'sa.key'}",
        f"--root-ca-file={work_dir / 'ca.crt'}",
        "--use-service-account-credentials=false",
        "--leader-elect=false",
        "--secure-port=0",
        # The defaults (20 QPS) would make the Job controller the bottleneck of benchmarks.
        "--kube-api-qps=500",
        "--kube-api-burst=1000",
        "--concurrent-job-syncs=10",
        "--profiling=false",
    ]


def node_agent_argv(
    *, kubeconfig: Path, work_dir: Path, mode: NodeAgentMode, pki_dir: Path
) -> list[str]:
    """The node agent serving its log API on a free loopback port (reported in the Node)."""
    return [
        sys.executable,
        "-m",
        "zenflow.envtest.nodeagent.main",
        "--kubeconfig",
        str(kubeconfig),
        "--node-name",
        NODE_NAME,
        "--work-dir",
        str(work_dir),
        "--mode",
        mode,
        "--tls-cert-file",
        str(pki_dir / "nodeagent.crt"),
        "--tls-private-key-file",
        str(pki_dir / "nodeagent.key"),
        "--client-ca-file",
        str(pki_dir / "kubelet-ca.crt"),
    ]
