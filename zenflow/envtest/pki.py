"""Key material of a local control plane: a CA, the apiserver's serving certificate, the
service-account signing key, the static token file and kubeconfigs; and the kubelet channel's
own CA, which signs the node agent's serving certificate and the API server's client
certificate for it (kept apart from the cluster CA, so neither certificate is an API credential).

Everything is generated fresh per control plane (EC P-256 keys: fast to generate, accepted by
every component) and written with mode 0600 where secret.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from zenflow.certs import generate_ca, generate_client, generate_serving

# Names the apiserver is reachable by: loopback, and the in-cluster service names/IP (the first
# address of the service range), which webhooks and pods may use.
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class User:
    """A static-token user of the apiserver (``--token-auth-file``)."""

    name: str
    token: str
    groups: tuple[str, ...] = ()


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def write_ca_and_serving_cert(
    *, directory: Path, service_ip: str, days: int = 30
) -> tuple[Path, Path, Path]:
    """Write ``ca.crt``, ``apiserver.crt`` and ``apiserver.key``; return their paths.

    The certificates are made by the webhook's generator (the same CA + serving-cert shape)."""
    now = datetime.datetime.now(datetime.UTC)
    validity = datetime.timedelta(days=days)
    ca_pem, ca_key_pem = generate_ca(now=now, validity=validity, common_name="zenflow-envtest-ca")
    hosts = [*SERVING_DNS_NAMES, "127.0.0.1", "::1", service_ip]
    cert_pem, key_pem = generate_serving(
        ca_cert_pem=ca_pem, ca_key_pem=ca_key_pem, hosts=hosts, now=now, validity=validity
    )
    ca_path, cert_path, key_path = (
        directory / "ca.crt",
        directory / "apiserver.crt",
        directory / "apiserver.key",
    )
    ca_path.write_bytes(ca_pem)
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


KUBELET_CLIENT_NAME = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class KubeletPki:
    """Files of the API server ↔ node agent channel."""

    ca: Path
    serving_cert: Path
    serving_key: Path
    client_cert: Path
    client_key: Path


def write_kubelet_pki(*, directory: Path, hosts: Sequence[str], days: int = 30) -> KubeletPki:
    """Write ``kubelet-ca.crt``, the node agent's ``nodeagent.crt``/``.key`` (for ``hosts``) and
    the API server's ``apiserver-kubelet-client.crt``/``.key`` (CN ``KUBELET_CLIENT_NAME``)."""
    now = datetime.datetime.now(datetime.UTC)
    validity = datetime.timedelta(days=days)
    ca_pem, ca_key_pem = generate_ca(now=now, validity=validity, common_name="zenflow-kubelet-ca")
    serving = generate_serving(
        ca_cert_pem=ca_pem, ca_key_pem=ca_key_pem, hosts=hosts, now=now, validity=validity
    )
    client = generate_client(
        ca_cert_pem=ca_pem,
        ca_key_pem=ca_key_pem,
        common_name=KUBELET_CLIENT_NAME,
        now=now,
        validity=validity,
    )
    files = KubeletPki(
        ca=directory / "kubelet-ca.crt",
        serving_cert=directory / "nodeagent.crt",
        serving_key=directory / "nodeagent.key",
        client_cert=directory / "apiserver-kubelet-client.crt",
        client_key=directory / "apiserver-kubelet-client.key",
    )
    files.ca.write_bytes(ca_pem)
    for (cert_pem, key_pem), cert_path, key_path in (
        (serving, files.serving_cert, files.serving_key),
        (client, files.client_cert, files.client_key),
    ):
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
    return files


def write_service_account_key(*, directory: Path) -> tuple[Path, Path]:
    """Write the token signing key ``sa.key`` and its public half ``sa.pub``."""
    key = _key()
    key_path, pub_path = directory / "sa.key", directory / "sa.pub"
    _write_key(key_path, key)
    pub_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_path, pub_path


def new_token() -> str:
    return secrets.token_urlsafe(24)


def write_token_file(*, path: Path, users: Sequence[User]) -> None:
    """``token,user,uid,"group1,group2"`` lines, the format of ``--token-auth-file``."""
    lines = [f'{user.token},{user.name},{user.name},"{",".join(user.groups)}"' for user in users]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def kubeconfig_document(
    *, server: str, ca_path: Path, token: str, user: str, context: str = "zenflow-local"
) -> Mapping[str, object]:
    """A kubeconfig with one cluster, one token user and one (current) context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": server, "certificate-authority": str(ca_path)},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": user, "namespace": "default"}}
        ],
        "current-context": context,
    }


def write_kubeconfig(*, path: Path, server: str, ca_path: Path, token: str, user: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            dict(kubeconfig_document(server=server, ca_path=ca_path, token=token, user=user)),
            sort_keys=False,
        )
    )
    path.chmod(0o600)
    return path
