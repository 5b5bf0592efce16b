"""``zenflow demo --ui`` serves the UI as a child process (zenflow.demo.ui): on the real control
plane it answers /healthz, the login URL it returns (token passed by environment, not argv)
opens a session, and the flow list is read as the demo's admin user."""

from __future__ import annotations

import json
import socket
import urllib.request
from http.cookiejar import CookieJar

from zenflow.demo.ui import start_ui
from zenflow.envtest import ControlPlane


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_ui_serves_the_control_plane(control_plane: ControlPlane) -> None:
    proc, url = start_ui(control_plane, port=free_port())
    try:
        assert "--token" not in " ".join(proc.argv)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with opener.open(url, timeout=10) as page:
            assert page.status == 200
            assert b'name="zenflow-csrf"' in page.read()
        base = url.split("?")[0]
        with opener.open(f"{base}api/flows", timeout=10) as resp:
            doc = json.loads(resp.read())
        assert isinstance(doc["flows"], list)
        assert doc["health"]["state"] in ("ok", "connecting")
    finally:
        proc.stop()
