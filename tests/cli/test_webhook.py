"""``zenflow webhook`` as a process (zenflow.cli.webhook).

Aspects: with ``--webhook-cert-dir`` it serves HTTPS on loopback (readyz answers, verified against
the CA that signed the certificate) and exits 0 on SIGTERM; bad flags exit 2 naming the flag
(missing certificate files, port out of range); flow authorization without a cluster exits 2
naming --no-authorize-flows.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.wait import eventually_sync
from zenflow.certs import renew, service_hosts

ZENFLOW = str(Path(sys.executable).parent / "zenflow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serves_and_stops_cleanly(tmp_path: Path) -> None:
    bundle = renew(None, hosts=service_hosts("w", "ns", ["127.0.0.1"]), now=dt.datetime.now(dt.UTC))
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    port = free_port()
    proc = subprocess.Popen(
        [
            ZENFLOW,
            "webhook",
            "--webhook-cert-dir",
            str(tmp_path),
            "--webhook-port",
            str(port),
            "--webhook-bind-address",
            "127.0.0.1",
            "--no-authorize-flows",
            "--log-format",
            "console",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=2
                ) as resp:
                    return bool(resp.status == 200)
            except OSError as exc:
                if proc.poll() is not None:
                    pytest.fail(f"exited {proc.returncode}: {proc.communicate()[1]}")
                raise AssertionError(f"not serving: {exc!r}") from exc

        eventually_sync(ready, what="the webhook ready", within=30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "webhook_started" in err
    assert "webhook_stopped" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(
            ["--webhook-cert-dir", "/nonexistent"], "missing tls.crt, tls.key", id="cert-dir"
        ),
        pytest.param(
            ["--webhook-port", "70000"], "--webhook-port 70000: must be 0..65535", id="port"
        ),
    ],
)
def test_bad_flags_exit_2(args: list[str], needle: str) -> None:
    result = subprocess.run(
        [ZENFLOW, "webhook", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert needle in result.stderr


def test_authorization_without_a_cluster_names_the_fix(tmp_path: Path) -> None:
    """Flow authorization asks the API server: with certificates but no cluster configured,
    the webhook stops at once (exit 2) saying so and naming --no-authorize-flows."""
    bundle = renew(None, hosts=service_hosts("w", "ns", ["127.0.0.1"]), now=dt.datetime.now(dt.UTC))
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | {"HOME": str(tmp_path)}
    result = subprocess.run(
        [ZENFLOW, "webhook", "--webhook-cert-dir", str(tmp_path), "--webhook-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "no cluster configured" in result.stderr
    assert "--no-authorize-flows" in result.stderr
