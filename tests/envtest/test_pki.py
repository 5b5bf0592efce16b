"""Key material of the control plane (zenflow.envtest.pki).

Aspects: the serving certificate is issued by the CA and names the loopback addresses and the
in-cluster service names; keys are private files; the token file has the apiserver's CSV format;
a written kubeconfig is loadable by kubernetes_asyncio and carries the token; the kubelet
channel has its own CA, which signs the node agent's serving certificate and the API server's
client certificate (so the latter is no credential at the API server, whose CA is another).
"""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from kubernetes_asyncio import client, config

from zenflow.envtest import pki


def test_serving_certificate_is_signed_by_the_ca_with_the_right_names(tmp_path: Path) -> None:
    ca_path, cert_path, key_path = pki.write_ca_and_serving_cert(
        directory=tmp_path, service_ip="10.0.0.1"
    )
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes.default.svc"} <= set(sans.get_values_for_type(x509.DNSName))
    ips = set(sans.get_values_for_type(x509.IPAddress))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")} <= ips
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_kubelet_channel_has_its_own_ca(tmp_path: Path) -> None:
    cluster_ca, _, _ = pki.write_ca_and_serving_cert(directory=tmp_path, service_ip="10.0.0.1")
    files = pki.write_kubelet_pki(directory=tmp_path, hosts=["127.0.0.1", "zenflow-local"])
    kubelet_ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    serving = x509.load_pem_x509_certificate(files.serving_cert.read_bytes())
    client_cert = x509.load_pem_x509_certificate(files.client_cert.read_bytes())
    serving.verify_directly_issued_by(kubelet_ca)
    client_cert.verify_directly_issued_by(kubelet_ca)
    assert client_cert.issuer != x509.load_pem_x509_certificate(cluster_ca.read_bytes()).subject
    names = client_cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert [n.value for n in names] == [pki.KUBELET_CLIENT_NAME]
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    for key in (files.serving_key, files.client_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_token_file_format(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    pki.write_token_file(
        path=path,
        users=[pki.User("admin", "t1", ("system:masters",)), pki.User("alice", "t2")],
    )
    assert path.read_text() == 't1,admin,admin,"system:masters"\nt2,alice,alice,""\n'


async def test_kubeconfig_loads_with_the_token(tmp_path: Path) -> None:
    ca_path, _, _ = pki.write_ca_and_serving_cert(directory=tmp_path, service_ip="10.0.0.1")
    path = pki.write_kubeconfig(
        path=tmp_path / "kubeconfig",
        server="https://127.0.0.1:6443",
        ca_path=ca_path,
        token="secret-token",
        user="admin",
    )
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(path), client_configuration=cfg)
    assert cfg.host == "https://127.0.0.1:6443"
    assert cfg.api_key["BearerToken"] == "Bearer secret-token"
    assert cfg.ssl_ca_cert == str(ca_path)
