"""The local control plane's lifecycle (zenflow.envtest.controlplane), each test with its own.

Aspects: a start yields a ready apiserver of the pinned version with the default service account,
and a stop leaves no process, frees every port and removes the work directory; restarting the
apiserver alone keeps the data; compacting etcd makes old resourceVersions 410 Gone for exact
lists, and expiring them (compaction + apiserver restart) for watches too; bad input is
a clear error within seconds: KUBEBUILDER_ASSETS unset-dir or incomplete, a port already taken,
etcd, kube-apiserver or the controller manager exiting at start (with its log tail), and nothing
is left running after.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zenflow.envtest import (
    K8S_VERSION,
    BinariesError,
    ControlPlane,
    KubectlError,
    PortInUseError,
)
from zenflow.envtest.ports import port_is_free
from zenflow.errors import ControlPlaneError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    """A control plane without node agent (faster), stopped after the test whatever happens."""
    plane = ControlPlane(node_agent=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.mark.integration
def test_start_and_stop_leave_nothing_behind(plane: ControlPlane) -> None:
    plane.start()
    pids = plane.processes
    assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
    ports = [int(url.rsplit(":", 1)[1]) for url in (plane.apiserver_url, plane.etcd_url)]
    work_dir = plane.work_dir
    assert plane.kubectl("get", "--raw", "/readyz").stdout == "ok"
    version = json.loads(plane.kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == K8S_VERSION
    plane.kubectl("get", "serviceaccount", "default", "-n", "default")
    plane.stop()
    assert plane.processes == {}
    assert not any(_alive(pid) for pid in pids.values())
    assert all(port_is_free(port) for port in ports)
    assert not work_dir.exists()


@pytest.mark.integration
def test_apiserver_restart_keeps_data_and_expiry_of_resource_versions(
    plane: ControlPlane,
) -> None:
    plane.start()
    created = json.loads(
        plane.kubectl("create", "configmap", "kept", "--from-literal=a=1", "-o", "json").stdout
    )
    old_version = created["metadata"]["resourceVersion"]
    old_pid = plane.processes["kube-apiserver"]
    started = time.monotonic()
    plane.stop_apiserver()
    assert "kube-apiserver" not in plane.processes
    plane.start_apiserver()
    assert time.monotonic() - started < 60  # no hang on in-flight watches
    assert plane.processes["kube-apiserver"] != old_pid
    assert plane.kubectl("get", "configmap", "kept", "-o", "name").stdout.strip() == (
        "configmap/kept"
    )
    plane.kubectl("create", "configmap", "later")
    exact_list = (
        f"/api/v1/namespaces/default/configmaps?resourceVersion={old_version}"
        "&resourceVersionMatch=Exact"
    )
    assert "kept" in plane.kubectl("get", "--raw", exact_list).stdout
    revision = plane.compact_etcd()
    assert revision > int(old_version)
    with pytest.raises(KubectlError) as info:
        plane.kubectl("get", "--raw", exact_list)
    assert "(Expired)" in info.value.stderr  # 410 Gone, reason Expired

    plane.expire_resource_versions()
    watch = plane.kubectl(
        "get",
        "--raw",
        f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old_version}"
        "&timeoutSeconds=5",
    )
    event = json.loads(watch.stdout.splitlines()[0])
    assert (event["type"], event["object"]["code"]) == ("ERROR", 410)


@pytest.mark.parametrize(
    ("assets", "message"),
    [
        pytest.param("nowhere", "is not a directory", id="not-a-directory"),
        pytest.param("empty", "has no executable etcd, kube-apiserver", id="missing-binaries"),
    ],
)
def test_bad_kubebuilder_assets_fails_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, assets: str, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / assets))
    with pytest.raises(BinariesError, match=message):
        ControlPlane().start()


@pytest.mark.integration
def test_port_already_taken_is_named(plane: ControlPlane) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        taken = ControlPlane(apiserver_port=port, node_agent=False)
        started = time.monotonic()
        with pytest.raises(PortInUseError, match=f"port {port} asked for kube-apiserver"):
            taken.start()
        assert time.monotonic() - started < 5
        assert taken.processes == {}


@pytest.mark.integration
@pytest.mark.parametrize(
    "component",
    [
        pytest.param("etcd", id="etcd"),
        pytest.param("kube-apiserver", id="kube-apiserver"),
        pytest.param("kube-controller-manager", id="kube-controller-manager"),
    ],
)
def test_component_crashing_at_start_is_reported_with_its_log(component: str) -> None:
    bad = ["--no-such-flag"]
    plane = ControlPlane(
        node_agent=False,
        extra_etcd_args=bad if component == "etcd" else (),
        extra_apiserver_args=bad if component == "kube-apiserver" else (),
        extra_controller_manager_args=bad if component == "kube-controller-manager" else (),
    )
    started = time.monotonic()
    with pytest.raises(ControlPlaneError) as info:
        plane.start()
    elapsed = time.monotonic() - started
    message = str(info.value)
    # Seconds, not the 60 s readiness timeout (generous: the machine may be busy).
    assert elapsed < 30, f"took {elapsed:.1f}s to notice"
    assert f"{component} exited with code" in message
    assert "no-such-flag" in message
    assert plane.processes == {}


def test_unstarted_control_plane_refuses_questions() -> None:
    plane = ControlPlane(node_agent=False)
    with pytest.raises(ControlPlaneError, match="not started"):
        _ = plane.kubeconfig_path
    plane.stop()  # stopping what never started is a no-op
