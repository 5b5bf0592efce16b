"""zenflow's own connection settings (zenflow.kube.kubeconfig): bearer tokens (literal, and a
token file read again once it may have rotated, the last good value kept when a read fails),
client certificates and CAs from files (relative to the kubeconfig) or inline data,
``insecure-skip-tls-verify``, the context chosen, refusals naming the user for exec plugins, auth
providers and basic auth, errors naming what is missing, ``$KUBECONFIG`` lists, and the pod's
service account in-cluster. No kubernetes-asyncio is imported on the way."""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from zenflow.errors import ConfigError
from zenflow.kube.kubeconfig import (
    TOKEN_REFRESH_S,
    KubeConfig,
    TokenSource,
    kubeconfig_path,
    load_kube_config,
)

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


def write(tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "main",
        "contexts": [
            {"name": "main", "context": {"cluster": "c", "user": "u"}},
            {"name": "other", "context": {"cluster": "c2", "user": "u"}},
        ],
        "clusters": [
            {"name": "c", "cluster": cluster or {"server": "https://10.0.0.1:6443/"}},
            {"name": "c2", "cluster": {"server": "https://10.0.0.2:6443"}},
        ],
        "users": [{"name": "u", "user": user}],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_token_and_inline_ca(tmp_path: Path) -> None:
    cluster = {
        "server": "https://10.0.0.1:6443/",
        "certificate-authority-data": base64.b64encode(CA).decode(),
        "tls-server-name": "kubernetes",
    }
    cfg = load_kube_config(str(write(tmp_path, {"token": "t0k"}, cluster)), env={})
    assert (cfg.host, cfg.ca_data, cfg.tls_server_name) == (
        "https://10.0.0.1:6443",
        CA,
        "kubernetes",
    )
    assert cfg.tokens().get() == "t0k"
    assert cfg.source.endswith("config")


def test_files_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    for name, data in (("ca.crt", CA), ("u.crt", b"CERT"), ("u.key", b"KEY"), ("token", b"ft\n")):
        (tmp_path / "pki" / name).write_bytes(data)
    user = {"client-certificate": "pki/u.crt", "client-key": "pki/u.key", "tokenFile": "pki/token"}
    cluster = {"server": "https://h", "certificate-authority": "pki/ca.crt"}
    cfg = load_kube_config(str(write(tmp_path, user, cluster)), env={})
    assert (cfg.ca_data, cfg.cert_data, cfg.key_data) == (CA, b"CERT", b"KEY")
    assert cfg.tokens().get() == "ft"


def test_a_token_file_is_read_again_once_it_may_have_rotated(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one")
    source = TokenSource(None, str(token))
    assert source.get(now=0.0) == "one"
    token.write_text("two")
    assert source.get(now=TOKEN_REFRESH_S - 1) == "one"
    assert source.get(now=TOKEN_REFRESH_S + 1) == "two"
    token.unlink()
    assert source.get(now=3 * TOKEN_REFRESH_S) == "two"  # the last good one
    with pytest.raises(ConfigError, match="cannot read token file"):
        TokenSource(None, str(token)).get()


def test_the_context_can_be_chosen(tmp_path: Path) -> None:
    cfg = load_kube_config(str(write(tmp_path, {"token": "x"})), context="other", env={})
    assert cfg.host == "https://10.0.0.2:6443"
    with pytest.raises(ConfigError, match="no context named 'nope'"):
        load_kube_config(str(write(tmp_path, {"token": "x"})), context="nope", env={})


@pytest.mark.parametrize(
    ("user", "what"),
    [
        pytest.param({"exec": {"command": "aws"}}, "exec plugins", id="exec"),
        pytest.param({"auth-provider": {"name": "gcp"}}, "auth providers", id="auth-provider"),
        pytest.param({"username": "a", "password": "b"}, "basic auth", id="basic"),
    ],
)
def test_unsupported_authentication_is_refused_naming_the_user(
    tmp_path: Path, user: dict[str, Any], what: str
) -> None:
    with pytest.raises(ConfigError, match=f"user 'u' uses {what}"):
        load_kube_config(str(write(tmp_path, user)), env={})


def test_broken_kubeconfigs_name_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "bad"
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="not a mapping"):
        load_kube_config(str(path), env={})
    path.write_text(yaml.safe_dump({"contexts": []}))
    with pytest.raises(ConfigError, match="no current-context"):
        load_kube_config(str(path), env={})
    bad_data = {"server": "https://h", "certificate-authority-data": "!!"}
    with pytest.raises(ConfigError, match="certificate-authority-data is not base64"):
        load_kube_config(str(write(tmp_path, {"token": "x"}, bad_data)), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_kube_config(str(tmp_path / "missing"), env={})


def test_resolution_order(tmp_path: Path) -> None:
    first = write(tmp_path, {"token": "x"})
    listed = f"{tmp_path / 'absent'}:{first}"
    assert kubeconfig_path(None, env={"KUBECONFIG": listed}) == str(first)
    assert kubeconfig_path(None, env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}) is None
    with pytest.raises(ConfigError, match="does not exist"):
        kubeconfig_path(None, env={"KUBECONFIG": str(tmp_path / "absent")})


def test_in_cluster_uses_the_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(CA)
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = load_kube_config(None, env=env, service_account_dir=tmp_path)
    assert (cfg.host, cfg.ca_data, cfg.source) == ("https://[fd00::1]:443", CA, "(in-cluster)")
    assert cfg.tokens().get() == "sa-token"
    with pytest.raises(ConfigError, match="no service account token"):
        load_kube_config(None, env=env, service_account_dir=tmp_path / "none")


def test_tls_settings() -> None:
    insecure = KubeConfig(host="https://h", insecure=True).ssl_context()
    assert isinstance(insecure, ssl.SSLContext)
    assert insecure.verify_mode == ssl.CERT_NONE
    assert KubeConfig(host="http://h").ssl_context() is False


def test_loading_imports_no_generated_client() -> None:
    code = (
        "import sys, zenflow.kube.kubeconfig, zenflow.kube.connection, zenflow.kube.rest;"
        "print(any(m.startswith('kubernetes_asyncio') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
