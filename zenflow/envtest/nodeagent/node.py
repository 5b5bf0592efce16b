"""The local Node: its manifest, its Lease, and the heartbeat that keeps it Ready.

The node lifecycle controller marks a node NotReady (and its pods for eviction) when neither its
Lease in ``kube-node-lease`` nor its Ready condition is renewed within the grace period (40 s by
default); the heartbeat renews the Lease every 10 s and the node status every 30 s, as a kubelet
does (more often than a kubelet's 5-minute status report, which is cheap here). The status names
the agent's log API port (``daemonEndpoints.kubeletEndpoint.Port``) at the node's InternalIP,
where the API server sends ``pods/log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from zenflow import __version__
from zenflow.envtest.nodeagent.kube import AgentApi
from zenflow.envtest.nodeagent.status import HOST_IP, rfc3339
from zenflow.errors import KubeError, NotFoundError
from zenflow.logging import get_logger

log = get_logger(__name__)

LEASE_NAMESPACE: Final = "kube-node-lease"
LEASE_DURATION_S: Final = 40
LEASE_RENEW_S: Final = 10.0
STATUS_EVERY_RENEWALS: Final = 3
# Capacity reported for pods; nothing enforces it (there is no scheduler), it is informational.
POD_CAPACITY: Final = "1000"
RUNTIME_VERSION: Final = f"zenflow-nodeagent://{__version__}"

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 * 1024**3


def node_manifest(*, name: str) -> dict[str, Any]:
    arch = _ARCH.get(platform.machine(), platform.machine())
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": arch,
                "node.zenflow.io/local": "true",
            },
        },
        "spec": {},
    }


def node_status(
    *,
    name: str,
    kubelet_version: str,
    boot_id: str,
    since: datetime,
    now: datetime,
    kubelet_port: int = 0,
) -> dict[str, Any]:
    """The full node status: capacity, conditions with a fresh heartbeat (unchanged since
    ``since``), addresses and the kubelet (log API) port, node info."""
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{_memory_bytes() // 1024}Ki",
        "pods": POD_CAPACITY,
        "ephemeral-storage": "100Gi",
    }
    stamp, transition = rfc3339(now), rfc3339(since)

    def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": transition,
        }

    uname = platform.uname()
    return {
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
            condition("Ready", "True", "KubeletReady", "zenflow local node agent is posting ready"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": HOST_IP},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": boot_id,
            "systemUUID": boot_id,
            "bootID": boot_id,
            "kernelVersion": uname.release,
            "osImage": f"{uname.system} (zenflow local node agent)",
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": kubelet_version,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _ARCH.get(uname.machine, uname.machine),
        },
    }


def lease_manifest(*, node: str, now: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": LEASE_NAMESPACE},
        "spec": {
            "holderIdentity": node,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": _micro_time(now),
        },
    }


class NodeHeartbeat:
    """Registers the Node and keeps it Ready until cancelled."""

    def __init__(self, *, api: AgentApi, name: str, kubelet_port: int = 0) -> None:
        self._api = api
        self._name = name
        self._kubelet_port = kubelet_port
        self._boot_id = str(uuid.uuid4())
        self._kubelet_version = "v0.0.0"
        self._since = datetime.now(UTC)

    async def register(self) -> None:
        """Create (or update) the Node with a Ready status; raises KubeError on failure."""
        self._kubelet_version = await self._api.server_version()
        await self._api.create_or_patch_node(node_manifest(name=self._name))
        await self._post_status()
        await self._api.renew_lease(lease_manifest(node=self._name, now=datetime.now(UTC)))
        log.info("node_registered", node=self._name, version=self._kubelet_version)

    async def _post_status(self) -> None:
        status = node_status(
            name=self._name,
            kubelet_version=self._kubelet_version,
            boot_id=self._boot_id,
            since=self._since,
            now=datetime.now(UTC),
            kubelet_port=self._kubelet_port,
        )
        await self._api.patch_node_status(self._name, status)

    async def run(self) -> None:
        """Renew the Lease every LEASE_RENEW_S and the status every few renewals, forever;
        failures are logged and retried at the next tick (the grace period allows three)."""
        tick = 0
        while True:
            await asyncio.sleep(LEASE_RENEW_S)
            tick += 1
            try:
                await self._api.renew_lease(lease_manifest(node=self._name, now=datetime.now(UTC)))
                if tick % STATUS_EVERY_RENEWALS == 0:
                    await self._post_status()
            except NotFoundError:
                # Someone deleted the Node: register it again, as a kubelet would.
                log.warning("node_missing", node=self._name)
                with contextlib.suppress(KubeError):
                    await self.register()
            except KubeError as exc:
                log.warning("node_heartbeat_failed", node=self._name, error=str(exc))
