"""Port choice for the control plane (zenflow.envtest.ports).

Aspects: freely chosen ports are distinct and bindable; a port asked for and already listened on
is refused with PortInUseError naming the port and its user; a port asked for and free is kept.
"""

from __future__ import annotations

import socket

import pytest

from zenflow.envtest.ports import PortInUseError, PortSpec, port_is_free, reserve_ports


def test_free_ports_are_distinct_and_free() -> None:
    ports = reserve_ports(PortSpec())
    chosen = {ports.apiserver, ports.etcd, ports.etcd_peer}
    assert len(chosen) == 3
    assert all(port_is_free(port) for port in chosen)


@pytest.mark.parametrize(
    ("field", "user"),
    [
        pytest.param("apiserver", "kube-apiserver", id="apiserver"),
        pytest.param("etcd", "etcd", id="etcd"),
    ],
)
def test_taken_port_is_refused_naming_it(field: str, user: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} asked for {user} is already in use"):
            reserve_ports(PortSpec(**{field: port}))


def test_free_port_asked_for_is_kept() -> None:
    port = reserve_ports(PortSpec()).apiserver
    assert reserve_ports(PortSpec(apiserver=port)).apiserver == port
