"""The web UI in the demo (``zenflow demo --ui``): ``zenflow ui`` as a child process on
127.0.0.1 with the control plane's admin kubeconfig, namespace ``default``.

The login token is made here and handed over in ``ZENFLOW_UI_TOKEN`` (never on the command
line, where other local users could read it); ``start_ui`` returns once the server answers its
``/healthz``, with the URL to open (token included).
"""

from __future__ import annotations

import os
import secrets
import sys
import urllib.error
import urllib.request

from zenflow.envtest import ControlPlane
from zenflow.envtest.process import ManagedProcess, wait_until

NAMESPACE = "default"
TOKEN_ENV = "ZENFLOW_UI_TOKEN"
START_TIMEOUT_S = 30.0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}healthz", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_ui(plane: ControlPlane, *, port: int) -> tuple[ManagedProcess, str]:
    """Start ``zenflow ui`` for the demo cluster; returns the process and the login URL."""
    token = secrets.token_urlsafe(24)
    argv = [
        sys.executable, "-m", "zenflow", "ui", "--kubeconfig", str(plane.kubeconfig_path),
        "-n", NAMESPACE, "--port", str(port), "--log-format", "json",
    ]  # fmt: skip
    proc = ManagedProcess(
        name="ui",
        argv=argv,
        log_path=plane.log_path("ui"),
        env={**os.environ, TOKEN_ENV: token},
    )
    proc.start()
    base = f"http://127.0.0.1:{port}/"
    wait_until(
        lambda: _answers(base), what=f"zenflow ui on {base}", timeout=START_TIMEOUT_S, watch=[proc]
    )
    return proc, f"{base}?token={token}"
