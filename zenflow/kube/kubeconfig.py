"""zenflow's own connection settings: a kubeconfig file or the pod's service account, read into a
``KubeConfig`` without the generated kubernetes-asyncio client (whose import alone costs the
process about 34 MiB of model classes it never uses: every request is raw JSON).

Resolution (as ``zenflow.kube.client.load_configuration``): the ``kubeconfig`` argument, else
``$KUBECONFIG`` (the first file of a ``:``-separated list that exists), else the in-cluster
service account when ``$KUBERNETES_SERVICE_HOST`` is set, else ``~/.kube/config``.

Supported: bearer tokens (``token``, ``tokenFile``), client certificates (``client-certificate``
/ ``-data``, ``client-key`` / ``-data``), the server's CA (``certificate-authority`` / ``-data``),
``insecure-skip-tls-verify`` and ``tls-server-name``; file paths relative to the kubeconfig's
directory, as kubectl resolves them. Refused with a ``ConfigError`` naming the user: ``exec``
plugins, ``auth-provider`` and basic auth (username/password) — zenflow runs as a
ServiceAccount. In-cluster: the mounted token is read again every ``TOKEN_REFRESH_S`` (bound
service account tokens rotate), the CA is the mounted ``ca.crt``.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from zenflow.errors import ConfigError

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REFRESH_S: Final = 60.0
"""How long a token read from a file is used before the file is read again (client-go: 1 min)."""


@dataclass(frozen=True)
class KubeConfig:
    """Where the API server is and how to authenticate to it."""

    host: str
    ca_data: bytes | None = None
    """PEM of the CA that signs the server's certificate (None: the system's trust store)."""
    cert_data: bytes | None = None
    key_data: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    source: str = ""
    """What it was read from, for messages."""

    def tokens(self) -> TokenSource:
        """Where each request's bearer token comes from."""
        return TokenSource(self.token, self.token_file)

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The TLS settings of a connection (``False``: no verification, as asked)."""
        if not self.host.startswith("https"):
            return False
        if self.ca_data and not self.insecure:
            ctx = ssl.create_default_context(cadata=self.ca_data.decode())  # this CA only
        else:
            ctx = ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_data and self.key_data:
            _load_cert_chain(ctx, self.cert_data, self.key_data)
        return ctx


class TokenSource:
    """The bearer token: the literal one, else the token file's content, read again every
    ``TOKEN_REFRESH_S`` (the last good value is kept when a read fails)."""

    def __init__(self, token: str | None, token_file: str | None) -> None:
        self._token, self._file = token, token_file
        self._read: tuple[float, str] | None = None

    def get(self, *, now: float | None = None) -> str | None:
        if self._token:
            return self._token
        if not self._file:
            return None
        now = time.monotonic() if now is None else now
        if self._read is not None and now - self._read[0] < TOKEN_REFRESH_S:
            return self._read[1]
        try:
            token = Path(self._file).read_text().strip()
        except OSError as exc:
            if self._read is not None:
                return self._read[1]
            raise ConfigError(f"cannot read token file {self._file}: {exc}") from exc
        self._read = (now, token)
        return token


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``load_cert_chain`` wants files: write both to a private temporary directory."""
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        ctx.load_cert_chain(cert_path, key_path)


def kubeconfig_path(explicit: str | None, *, env: Mapping[str, str] | None = None) -> str | None:
    """The kubeconfig file to use, or None for the in-cluster service account."""
    env = os.environ if env is None else env
    if explicit:
        if not os.path.exists(explicit):
            raise ConfigError(f"kubeconfig {explicit!r} does not exist")
        return explicit
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        for path in listed:
            if os.path.exists(path):
                return path
        raise ConfigError(f"kubeconfig {listed[0]!r} does not exist")
    if env.get("KUBERNETES_SERVICE_HOST"):
        return None
    default = os.path.expanduser("~/.kube/config")
    if not os.path.exists(default):
        raise ConfigError(
            "no cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod"
        )
    return default


def load_kube_config(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> KubeConfig:
    """Resolve and read the connection settings; raises ``ConfigError`` naming what is wrong."""
    env = os.environ if env is None else env
    path = kubeconfig_path(kubeconfig, env=env)
    if path is None:
        return in_cluster_config(env=env, service_account_dir=service_account_dir)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"invalid kubeconfig {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"invalid kubeconfig {path}: not a mapping")
    return from_kubeconfig(doc, context=context, base=Path(path).parent, source=path)


def in_cluster_config(
    *, env: Mapping[str, str] | None = None, service_account_dir: Path = SERVICE_ACCOUNT_DIR
) -> KubeConfig:
    """The pod's service account: ``$KUBERNETES_SERVICE_HOST``/``_PORT``, the mounted token
    (read again as it rotates) and CA."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ConfigError("not in a cluster: $KUBERNETES_SERVICE_HOST is not set")
    token_file = service_account_dir / "token"
    if not token_file.exists():
        raise ConfigError(f"in-cluster: no service account token at {token_file}")
    ca = service_account_dir / "ca.crt"
    server = f"[{host}]" if ":" in host else host
    return KubeConfig(
        host=f"https://{server}:{port}",
        ca_data=ca.read_bytes() if ca.exists() else None,
        token_file=str(token_file),
        source="(in-cluster)",
    )


def from_kubeconfig(
    doc: Mapping[str, Any], *, context: str | None, base: Path, source: str
) -> KubeConfig:
    """The ``KubeConfig`` of ``context`` (else the current one) of a parsed kubeconfig."""
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(f"invalid kubeconfig {source}: no current-context and none given")
    ctx = _named(doc, "contexts", "context", name, source)
    cluster = _named(doc, "clusters", "cluster", ctx.get("cluster"), source)
    user = _named(doc, "users", "user", ctx.get("user"), source) if ctx.get("user") else {}
    for unsupported, what in (
        ("exec", "exec plugins"),
        ("auth-provider", "auth providers"),
        ("username", "basic auth"),
    ):
        if user.get(unsupported):
            raise ConfigError(
                f"kubeconfig {source}: user {ctx.get('user')!r} uses {what}, which zenflow does "
                "not support: use a token or a client certificate"
            )
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise ConfigError(
            f"invalid kubeconfig {source}: cluster {ctx.get('cluster')!r} has no server"
        )
    token_file = user.get("tokenFile")
    return KubeConfig(
        host=server.rstrip("/"),
        ca_data=_data(cluster, "certificate-authority", base, source),
        cert_data=_data(user, "client-certificate", base, source),
        key_data=_data(user, "client-key", base, source),
        token=user.get("token") or None,
        token_file=str(base / token_file) if token_file else None,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        source=source,
    )


def _named(
    doc: Mapping[str, Any], section: str, key: str, name: object, source: str
) -> Mapping[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            found = entry.get(key) or {}
            if isinstance(found, Mapping):
                return found
    raise ConfigError(f"invalid kubeconfig {source}: no {key} named {name!r}")


def _data(entry: Mapping[str, Any], field_name: str, base: Path, source: str) -> bytes | None:
    """``<field>-data`` (base64) or the file ``<field>`` names (relative to the kubeconfig)."""
    inline = entry.get(f"{field_name}-data")
    if inline:
        try:
            return base64.b64decode(inline, validate=True)
        except ValueError as exc:
            raise ConfigError(f"kubeconfig {source}: {field_name}-data is not base64") from exc
    path = entry.get(field_name)
    if not path:
        return None
    try:
        return (base / str(path)).read_bytes()
    except OSError as exc:
        raise ConfigError(f"kubeconfig {source}: cannot read {field_name} {path}: {exc}") from exc
