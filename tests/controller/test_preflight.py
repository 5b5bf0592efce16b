"""``zenflow controller`` run from outside the cluster against a misconfigured one: it stops
with exit status 2 and one message naming the fix, instead of retrying forever or a traceback
(``zenflow.controller.preflight``). The processes are real, against the real control plane.

Aspects: a missing Lease namespace names --leader-election-namespace and --no-leader-election;
a missing webhook Secret namespace names --webhook-secret-namespace and --no-webhook; both at
once are both listed; a cluster without zenflow's CRDs names ``kubectl apply -k manifests/``; a
taken metrics or webhook port names --http-port / --webhook-port (checked before the cluster is
even asked), as do two flags given one port; the checks pass a healthy configuration (the
controller starts); outside a cluster metrics and probes default to 127.0.0.1, in a pod to
0.0.0.0, and a flag wins.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.wait import eventually_sync
from zenflow.controller.settings import add_settings_arguments, settings_from_args
from zenflow.envtest import ControlPlane

# Bounds a hang only: a controller that retried forever instead would fail here.
ENDS_WITHIN_S = 60.0


def controller(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "zenflow", "controller", "--kubeconfig", str(kubeconfig)]
    return subprocess.run(
        [*argv, "--log-format", "json", *args],
        capture_output=True,
        text=True,
        timeout=ENDS_WITHIN_S,
        check=False,
    )


def refused(result: subprocess.CompletedProcess[str], *fixes: str) -> str:
    """The one message of a refused start; it names every fix."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr[result.stderr.index("zenflow controller: ") :]
    for fix in fixes:
        assert fix in message, message
    return message


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.mark.integration
def test_missing_lease_namespace(control_plane: ControlPlane) -> None:
    result = controller(
        control_plane.kubeconfig_path,
        "--leader-election-namespace", "no-such-namespace",
        "--no-webhook", "--http-port", "0",
    )  # fmt: skip
    message = refused(result, "--leader-election-namespace", "--no-leader-election")
    assert 'the namespace "no-such-namespace" of the leader election Lease does not exist' in (
        message
    )
    assert "kubectl create namespace no-such-namespace" in message


@pytest.mark.integration
def test_missing_webhook_secret_namespace(control_plane: ControlPlane) -> None:
    result = controller(
        control_plane.kubeconfig_path,
        "--no-leader-election", "--http-port", "0",
        "--webhook-port", "0", "--webhook-secret-namespace", "no-such-namespace",
    )  # fmt: skip
    message = refused(result, "--webhook-secret-namespace", "--no-webhook")
    assert "the webhook's certificate Secret does not exist" in message


@pytest.mark.integration
def test_every_problem_is_listed(control_plane: ControlPlane) -> None:
    result = controller(
        control_plane.kubeconfig_path,
        "--leader-election-namespace", "no-such-lease-namespace",
        "--http-port", "0",
        "--webhook-port", "0", "--webhook-secret-namespace", "no-such-secret-namespace",
    )  # fmt: skip
    message = refused(result, "--no-leader-election", "--no-webhook")
    assert message.startswith("zenflow controller: cannot start:\n  - ")
    assert message.count("\n  - ") == 2


@pytest.mark.integration
def test_a_cluster_without_the_crds() -> None:
    with ControlPlane(node_agent=False) as plane:
        result = controller(plane.kubeconfig_path, "--no-leader-election", "--no-webhook")
    message = refused(result, "kubectl apply -k manifests/")
    assert "jobflows.workflow.zen.io and cronjobflows.workflow.zen.io not served" in message


def test_taken_ports(taken_port: int, tmp_path: Path) -> None:
    # Checked before the cluster is asked: the kubeconfig need not even work.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    metrics = controller(kubeconfig, "--no-webhook", "--http-port", str(taken_port))
    message = refused(metrics, "--http-port")
    assert f"port {taken_port} on 127.0.0.1 (metrics and probes) is already in use" in message
    webhook = controller(
        kubeconfig, "--http-port", "0",
        "--webhook-bind-address", "127.0.0.1", "--webhook-port", str(taken_port),
    )  # fmt: skip
    refused(webhook, "--webhook-port")
    same = controller(kubeconfig, "--http-port", "18443", "--webhook-port", "18443")
    refused(same, "--http-port and --webhook-port are both 18443")


@pytest.mark.integration
def test_a_healthy_configuration_starts(control_plane: ControlPlane, tmp_path: Path) -> None:
    argv = [
        sys.executable, "-m", "zenflow", "controller",
        "--kubeconfig", str(control_plane.kubeconfig_path),
        "--leader-election-namespace", "default", "--lease-name", "preflight-test",
        "--no-webhook", "--http-port", "0", "--log-format", "json",
    ]  # fmt: skip
    log = tmp_path / "controller.log"
    with log.open("w") as out:
        process = subprocess.Popen(argv, stderr=out, stdout=subprocess.DEVNULL)
    try:
        eventually_sync(
            lambda: "leader_runnables_started" in log.read_text(),
            what="the controller leading",
            within=ENDS_WITHIN_S,
        )
    finally:
        process.terminate()
        assert process.wait(timeout=ENDS_WITHIN_S) == 0, log.read_text()


def _settings_host(argv: list[str], env: dict[str, str]) -> str:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_args(parser.parse_args(argv), env=env).http_host


@pytest.mark.parametrize(
    ("argv", "env", "host"),
    [
        pytest.param([], {}, "127.0.0.1", id="laptop"),
        pytest.param([], {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "0.0.0.0", id="pod"),
        pytest.param(
            ["--kubeconfig", "k"], {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "127.0.0.1",
            id="pod-with-kubeconfig",
        ),
        pytest.param(
            [], {"KUBECONFIG": "k", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "127.0.0.1",
            id="pod-with-KUBECONFIG",
        ),
        pytest.param(["--http-host", "0.0.0.0"], {}, "0.0.0.0", id="flag"),
        pytest.param([], {"ZENFLOW_HTTP_HOST": "::1"}, "::1", id="env"),
    ],
)  # fmt: skip
def test_metrics_address_default(argv: list[str], env: dict[str, str], host: str) -> None:
    assert _settings_host(argv, env) == host
