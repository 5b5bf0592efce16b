"""A real local Kubernetes control plane as a library (like controller-runtime's envtest).

``ControlPlane`` starts etcd, kube-apiserver (RBAC, a service-account issuer, static tokens),
kube-controller-manager (Job, garbage-collector, service-account and namespace controllers) and
the local node agent standing in for the kubelet, each a subprocess of the caller, on free
loopback ports, in a temporary work directory. It is synchronous so pytest fixtures, the demo
and ``zenflow dev`` can all use it.

Invariants: after ``start()`` returns, the apiserver answers /readyz, the "default" service
account exists (so pods can be admitted), the garbage collector has synced its monitors for
every resource known then, CRDs of ``crds_dir`` included (they are applied before
kube-controller-manager starts, so deleting an owner of a custom kind cascades at once), and,
with a node agent, the node is Ready; if ``start()`` raises, nothing it started is left
running. ``install_crds`` on a running plane restarts kube-controller-manager when it created a
CRD, for the same reason. ``stop()`` (idempotent, also run at
interpreter exit) stops every process, node agent first, and removes the work directory it made.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from zenflow.envtest import endpoints, flags, pki
from zenflow.envtest.binaries import Binaries, ensure_binaries
from zenflow.envtest.flags import NODE_NAME, SERVICE_IP, NodeAgentMode
from zenflow.envtest.kubectl import KubectlError, apply_manifests, run_kubectl
from zenflow.envtest.ports import PortInUseError, PortSpec, reserve_ports
from zenflow.envtest.process import ManagedProcess, wait_until
from zenflow.errors import ControlPlaneError
from zenflow.kube.client import load_configuration

if TYPE_CHECKING:
    from kubernetes_asyncio.client import Configuration

__all__ = ["GC_SYNCED", "ControlPlane", "KubectlError"]

_ATTEMPTS: Final = 3  # starts tried when a freely chosen port is taken by someone else meanwhile
# What kube-controller-manager logs once its garbage collector watches every resource it found.
GC_SYNCED: Final = "all resource monitors have synced"


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager (+ node agent) on this machine."""

    def __init__(
        self,
        *,
        binaries: Binaries | None = None,
        node_agent: bool = True,
        node_agent_mode: NodeAgentMode = "exec",
        work_dir: Path | None = None,
        apiserver_port: int | None = None,
        etcd_port: int | None = None,
        extra_etcd_args: Sequence[str] = (),
        extra_apiserver_args: Sequence[str] = (),
        extra_controller_manager_args: Sequence[str] = (),
        crds_dir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self._binaries = binaries
        self.node_agent = node_agent
        self.node_agent_mode: NodeAgentMode = node_agent_mode
        self._given_work_dir = work_dir
        self._ports = PortSpec(apiserver=apiserver_port, etcd=etcd_port)
        self._extra = {
            "etcd": list(extra_etcd_args),
            "kube-apiserver": list(extra_apiserver_args),
            "kube-controller-manager": list(extra_controller_manager_args),
        }
        self.start_timeout = start_timeout
        self._crds_dir = crds_dir
        self.crds: list[str] = []  # objects applied from crds_dir at start
        self._work_dir: Path | None = None
        self._processes: dict[str, ManagedProcess] = {}
        self._tokens: dict[str, str] = {}
        self._apiserver_port = 0
        self._etcd_port = 0
        self.started_in_s = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        """Start everything and wait until usable; on failure stop what started and raise."""
        if self._processes:
            raise ControlPlaneError("control plane already started")
        if self._binaries is None:
            self._binaries = ensure_binaries()
        began = time.monotonic()
        for attempt in range(1, _ATTEMPTS + 1):
            atexit.register(self.stop)  # stop() unregisters it
            try:
                self._start_once()
                break
            except ControlPlaneError as exc:
                self.stop()
                # A port chosen free was taken by someone else before our process bound it.
                raced = not isinstance(exc, PortInUseError) and "address already in use" in str(exc)
                if not raced or attempt == _ATTEMPTS:
                    raise
        self.started_in_s = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop every process (node agent first) and remove the temporary work directory."""
        for name in ("nodeagent", "kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self._processes.pop(name, None)
            if proc is not None:
                proc.stop()
        if self._work_dir is not None and self._given_work_dir is None:
            if os.environ.get("ZENFLOW_ENVTEST_KEEP"):
                print(f"zenflow envtest: kept {self._work_dir}", file=sys.stderr)
            else:
                shutil.rmtree(self._work_dir, ignore_errors=True)
        self._work_dir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_once(self) -> None:
        if self._given_work_dir is not None:
            self._given_work_dir.mkdir(parents=True, exist_ok=True)
            # A cluster is never resumed: etcd data from an earlier start would not match.
            shutil.rmtree(self._given_work_dir / "etcd-data", ignore_errors=True)
            self._work_dir = self._given_work_dir
        else:
            self._work_dir = Path(tempfile.mkdtemp(prefix="zenflow-envtest-"))
        ports = reserve_ports(self._ports)
        self._apiserver_port, self._etcd_port = ports.apiserver, ports.etcd
        self._write_pki()
        etcd = self._spawn(
            "etcd",
            flags.etcd_argv(
                binary=self.binaries.etcd,
                data_dir=self.work_dir / "etcd-data",
                client_url=self.etcd_url,
                peer_port=ports.etcd_peer,
            ),
        )
        wait_until(
            lambda: endpoints.etcd_healthy(self.etcd_url),
            what=f"etcd health on {self.etcd_url}",
            timeout=self.start_timeout,
            watch=[etcd],
        )
        self.start_apiserver()
        if self._crds_dir is not None:
            # Before the controller manager: its garbage collector then knows them from the start.
            self.crds = self._apply(self._crds_dir, timeout=self.start_timeout)
        kcm = self._spawn(
            "kube-controller-manager",
            flags.controller_manager_argv(
                binary=self.binaries.kube_controller_manager, work_dir=self.work_dir
            ),
        )
        self._wait_controller_manager(kcm, log_from=0)
        wait_until(
            lambda: self._get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            what="the default service account (created by kube-controller-manager)",
            timeout=self.start_timeout,
            watch=[etcd, self._processes["kube-apiserver"], kcm],
        )
        if self.node_agent:
            agent_dir = self.work_dir / "nodeagent"
            agent_dir.mkdir(exist_ok=True)
            agent = self._spawn(
                "nodeagent",
                flags.node_agent_argv(
                    kubeconfig=self.kubeconfig_path,
                    work_dir=agent_dir,
                    mode=self.node_agent_mode,
                    pki_dir=self.work_dir,
                ),
            )
            wait_until(
                lambda: endpoints.node_ready(self._get(f"/api/v1/nodes/{NODE_NAME}")),
                what=f"node {NODE_NAME} Ready (registered by the node agent)",
                timeout=self.start_timeout,
                watch=[agent, self._processes["kube-apiserver"]],
            )

    def _wait_controller_manager(self, kcm: ManagedProcess, *, log_from: int) -> None:
        """Wait until the garbage collector (started after ``log_from`` in the log) synced."""

        def synced() -> bool:
            with open(kcm.log_path, "rb") as log:
                log.seek(log_from)
                return GC_SYNCED.encode() in log.read()

        wait_until(
            synced,
            what="kube-controller-manager's garbage collector to sync",
            timeout=self.start_timeout,
            watch=[self._processes["kube-apiserver"], kcm],
        )

    def restart_controller_manager(self) -> None:
        """Restart kube-controller-manager and wait until its garbage collector synced."""
        kcm = self._processes.get("kube-controller-manager")
        if kcm is None:
            raise ControlPlaneError("kube-controller-manager is not running")
        kcm.stop()
        log_from = kcm.log_path.stat().st_size
        kcm.start()
        self._wait_controller_manager(kcm, log_from=log_from)

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        proc = ManagedProcess(
            name=name, argv=[*argv, *self._extra.get(name, [])], log_path=self.log_path(name)
        )
        self._processes[name] = proc
        proc.start()
        return proc

    # -- the apiserver alone (for restart tests) ---------------------------------------------

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (etcd, the controller manager and the node agent stay)."""
        proc = self._processes.get("kube-apiserver")
        if proc is None:
            raise ControlPlaneError("kube-apiserver is not running")
        proc.stop()

    def start_apiserver(self) -> None:
        """(Re)start kube-apiserver on the same port and etcd, and wait for /readyz."""
        proc = self._processes.get("kube-apiserver")
        if proc is None:
            proc = self._spawn(
                "kube-apiserver",
                flags.apiserver_argv(
                    binary=self.binaries.kube_apiserver,
                    work_dir=self.work_dir,
                    etcd_url=self.etcd_url,
                    port=self._apiserver_port,
                ),
            )
        else:
            proc.start()
        wait_until(
            lambda: self._get("/readyz")[0] == 200,
            what=f"kube-apiserver /readyz on {self.apiserver_url}",
            timeout=self.start_timeout,
            watch=[self._processes["etcd"], proc],
        )

    def compact_etcd(self) -> int:
        """Compact etcd to its current revision; returns it. Reads served by etcd at an older
        resourceVersion (list with resourceVersionMatch=Exact) then get 410 Expired, but the
        apiserver's watch cache may still serve watches from it: see expire_resource_versions."""
        return endpoints.etcd_compact(self.etcd_url)

    def expire_resource_versions(self) -> int:
        """Compact etcd and restart the apiserver: every open watch is cut, and a watch or list
        from any older resourceVersion gets 410 Expired. Returns the compacted revision."""
        revision = self.compact_etcd()
        self.stop_apiserver()
        self.start_apiserver()
        return revision

    # -- what callers use ---------------------------------------------------------------------

    def _require_work_dir(self) -> Path:
        if self._work_dir is None:
            raise ControlPlaneError("control plane is not started")
        return self._work_dir

    @property
    def work_dir(self) -> Path:
        return self._require_work_dir()

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            raise ControlPlaneError("control plane is not started")
        return self._binaries

    @property
    def binaries_dir(self) -> Path:
        return self.binaries.directory

    @property
    def kubeconfig_path(self) -> Path:
        return self._require_work_dir() / "kubeconfig"

    @property
    def ca_cert_path(self) -> Path:
        return self._require_work_dir() / "ca.crt"

    @property
    def apiserver_url(self) -> str:
        self._require_work_dir()
        return f"https://127.0.0.1:{self._apiserver_port}"

    @property
    def etcd_url(self) -> str:
        self._require_work_dir()
        return f"http://127.0.0.1:{self._etcd_port}"

    @property
    def tokens(self) -> dict[str, str]:
        """Static-token users: ``admin`` (system:masters); ``alice``, ``bob``, ``carol`` and
        ``dave`` with no permissions at all (``bob`` and ``carol`` are in group ``approvers``)."""
        return dict(self._tokens)

    @property
    def admin_token(self) -> str:
        return self._tokens["admin"]

    @property
    def processes(self) -> dict[str, int]:
        """Name → pid of every running process of this control plane."""
        return {
            name: proc.pid
            for name, proc in self._processes.items()
            if proc.alive() and proc.pid is not None
        }

    def log_path(self, name: str) -> Path:
        """Log file of a process: etcd, kube-apiserver, kube-controller-manager, nodeagent."""
        return self._require_work_dir() / f"{name}.log"

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        as_token: str | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as admin (or with ``as_token``); raise KubectlError if ``check`` fails."""
        return run_kubectl(
            self.binaries.kubectl,
            self.kubeconfig_path,
            *args,
            input=input,
            check=check,
            as_token=as_token,
            timeout=timeout,
        )

    def install_crds(self, directory: Path, *, timeout: float = 60.0) -> list[str]:
        """Apply the YAML manifests in ``directory`` (none if it is missing or empty) and wait
        until their CRDs are Established; return the applied objects' names. When that created
        a CRD, kube-controller-manager is restarted (and waited for) so its garbage collector
        follows owner references to the new kinds at once, not at its next discovery."""
        known = set(self.kubectl("get", "crd", "-o", "name").stdout.split())
        applied = self._apply(directory, timeout=timeout)
        created = [
            n for n in applied if n.startswith("customresourcedefinition") and n not in known
        ]
        if created and "kube-controller-manager" in self._processes:
            self.restart_controller_manager()
        return applied

    def _apply(self, directory: Path, *, timeout: float) -> list[str]:
        return apply_manifests(self.kubectl, directory, timeout=timeout)

    def write_kubeconfig(self, path: Path, *, token: str, user: str = "user") -> Path:
        """Write a kubeconfig for this cluster authenticating with ``token`` (e.g. a service
        account's, from ``create_token``)."""
        return pki.write_kubeconfig(
            path=path, server=self.apiserver_url, ca_path=self.ca_cert_path, token=token, user=user
        )

    def create_token(self, *, namespace: str, service_account: str, duration: str = "1h") -> str:
        """A bound token for a service account (TokenRequest API, via ``kubectl create token``)."""
        out = self.kubectl(
            "create", "token", service_account, "-n", namespace, f"--duration={duration}"
        )
        return out.stdout.strip()

    async def load_client_configuration(self) -> Configuration:
        """A kubernetes_asyncio Configuration for the admin user."""
        return await load_configuration(str(self.kubeconfig_path))

    # -- files and command lines --------------------------------------------------------------

    def _write_pki(self) -> None:
        work = self._require_work_dir()
        pki.write_ca_and_serving_cert(directory=work, service_ip=SERVICE_IP)
        pki.write_service_account_key(directory=work)
        pki.write_kubelet_pki(directory=work, hosts=["127.0.0.1", "localhost", NODE_NAME])
        users = [
            pki.User("admin", pki.new_token(), ("system:masters",)),
            pki.User("alice", pki.new_token()),
            # More users without permissions, for tests where people act on one object (an
            # approval gate that needs several distinct approvers).
            *(pki.User(name, pki.new_token(), ("approvers",)) for name in ("bob", "carol")),
            pki.User("dave", pki.new_token()),
            pki.User("system:kube-controller-manager", pki.new_token(), ("system:masters",)),
        ]
        pki.write_token_file(path=work / "tokens.csv", users=users)
        self._tokens = {user.name: user.token for user in users}
        self.write_kubeconfig(self.kubeconfig_path, token=self.admin_token, user="admin")
        self.write_kubeconfig(
            work / "kube-controller-manager.kubeconfig",
            token=self._tokens["system:kube-controller-manager"],
            user="kube-controller-manager",
        )

    def _get(self, path: str) -> tuple[int, bytes]:
        return endpoints.https_get(
            f"{self.apiserver_url}{path}", ca_path=self.ca_cert_path, token=self.admin_token
        )
