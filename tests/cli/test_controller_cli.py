"""``zenflow controller`` command line: invalid flags and a missing kubeconfig exit 2 naming the
flag before anything starts; an unreachable API server is reported with its URL and retried with
backoff (no traceback, no crash loop) until SIGTERM ends the process cleanly."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from tests.support.controller_process import ControllerProcess
from zenflow.cli import controller


def main(argv: list[str]) -> int:
    """The command's parser and run alone (in process, for quick flag checks)."""
    parser = argparse.ArgumentParser(prog="zenflow controller")
    controller.add_arguments(parser)
    return controller.run(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        pytest.param(["--workers", "0"], "--workers", id="workers"),
        pytest.param(["--qps", "0"], "--qps", id="qps"),
        pytest.param(["--lease-duration", "3"], "--lease-duration", id="lease-duration"),
        pytest.param(["--http-port", "-1"], "--http-port", id="http-port"),
    ],
)
def test_invalid_flag_exits_2_naming_it(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("zenflow controller: ")
    assert flag in err


def test_missing_kubeconfig_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["--kubeconfig", str(missing), "--http-port", "0"]) == 2
    assert str(missing) in capsys.readouterr().err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_apiserver_is_named_and_retried_until_sigterm(tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{_closed_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{url}', insecure-skip-tls-verify: true}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
        "current-context: x\n"
    )
    args = ["--kubeconfig", str(kubeconfig), "--http-port", "0", "--no-webhook"]
    proc = ControllerProcess("unreachable", args, log_path=tmp_path / "ctl.log").start()
    try:
        proc.wait_for("apiserver_unreachable", within=30, count=2)
        code = proc.terminate(within=15)
    finally:
        proc.close()
    output = proc.text()
    unreachable = [ln for ln in output.splitlines() if "apiserver_unreachable" in ln]
    assert len(unreachable) >= 2, output
    assert url in unreachable[0]
    assert "retry_in_s" in unreachable[0]
    assert "Traceback" not in output
    assert "Unclosed" not in output  # the API client was closed
    assert code == 0
