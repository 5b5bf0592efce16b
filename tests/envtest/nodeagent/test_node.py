"""Manifests of the local Node and its Lease.

Aspects: node labels (hostname, os, arch); status capacity = allocatable, the four conditions
with Ready True, heartbeat vs. transition times, loopback address, node info naming the agent;
the Lease in kube-node-lease with holder, duration and a microsecond renewTime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zenflow.envtest.nodeagent.node import (
    LEASE_DURATION_S,
    LEASE_NAMESPACE,
    RUNTIME_VERSION,
    lease_manifest,
    node_manifest,
    node_status,
)

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
NOW = SINCE + timedelta(minutes=5, microseconds=123456)


def test_node_manifest_labels() -> None:
    node = node_manifest(name="n1")
    labels = node["metadata"]["labels"]
    assert node["metadata"]["name"] == "n1"
    assert labels["kubernetes.io/hostname"] == "n1"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"]


def test_node_status() -> None:
    status = node_status(name="n1", kubelet_version="v1.35.4", boot_id="b", since=SINCE, now=NOW)
    assert status["capacity"] == status["allocatable"]
    assert {"cpu", "memory", "pods"} <= set(status["capacity"])
    conditions = {c["type"]: c for c in status["conditions"]}
    assert set(conditions) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert conditions["Ready"]["status"] == "True"
    assert all(c["status"] == "False" for k, c in conditions.items() if k != "Ready")
    assert conditions["Ready"]["lastHeartbeatTime"] == "2026-01-01T00:05:00Z"
    assert conditions["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
    info = status["nodeInfo"]
    assert (info["kubeletVersion"], info["containerRuntimeVersion"]) == ("v1.35.4", RUNTIME_VERSION)
    assert info["operatingSystem"] == "linux"


def test_lease_manifest() -> None:
    lease = lease_manifest(node="n1", now=NOW)
    assert lease["metadata"] == {"name": "n1", "namespace": LEASE_NAMESPACE}
    assert lease["spec"] == {
        "holderIdentity": "n1",
        "leaseDurationSeconds": LEASE_DURATION_S,
        "renewTime": "2026-01-01T00:05:00.123456Z",
    }
