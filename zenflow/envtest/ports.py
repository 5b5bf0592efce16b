"""Loopback ports for the control plane: given ones checked free, the others chosen free.

A freely chosen port is only free at the moment it was chosen; the control plane retries its start
with new ports when a process then finds one taken (``ControlPlane.start``).
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass

from zenflow.errors import ControlPlaneError

HOST = "127.0.0.1"


class PortInUseError(ControlPlaneError):
    """A port asked for explicitly is already taken."""


@dataclass(frozen=True)
class PortSpec:
    """Ports asked for; None means "choose a free one"."""

    apiserver: int | None = None
    etcd: int | None = None


@dataclass(frozen=True)
class Ports:
    apiserver: int
    etcd: int
    etcd_peer: int


def _bind(sock: socket.socket, port: int) -> None:
    # SO_REUSEADDR as the Go servers set it: a port in TIME_WAIT is usable, a listening one not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            _bind(sock, port)
        except OSError:
            return False
        return True


def reserve_ports(spec: PortSpec) -> Ports:
    """Check the given ports and choose distinct free ones for the rest; raise PortInUseError
    naming the port and its user when a given port is taken."""
    for what, port in (("kube-apiserver", spec.apiserver), ("etcd", spec.etcd)):
        if port is not None and not port_is_free(port):
            raise PortInUseError(
                f"port {port} asked for {what} is already in use on {HOST}; "
                f"stop whatever listens there or leave the port unset to pick a free one"
            )
    with ExitStack() as stack:
        # Hold every chosen socket open until all are chosen, so the choices are distinct.
        def free() -> int:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            _bind(sock, 0)
            port: int = sock.getsockname()[1]
            return port

        return Ports(apiserver=spec.apiserver or free(), etcd=spec.etcd or free(), etcd_peer=free())
