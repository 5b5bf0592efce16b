"""The UI's guard (zenflow.ui.security), through the real app:

- every response (pages, JSON, static assets, refusals) carries the strict CSP and hardening
  headers; no inline script or style in the page shell;
- a Host that is not loopback (DNS rebinding) is refused, allowed hosts are accepted;
- without the login cookie everything is 401; ?token= sets an HttpOnly SameSite=Strict cookie
  (not the token) and redirects to the clean URL; a wrong token is refused;
- state-changing requests need the CSRF token from the page, and a same-origin Origin;
- a read-only server refuses actions before any API call.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.ui.conftest import LOGIN, MakeClient
from zenflow.ui.security import CSP, Guard


async def _login(test_client: TestClient[Any, Any]) -> None:
    resp = await test_client.get(f"/?token={LOGIN}", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert LOGIN not in cookie


async def _csrf(test_client: TestClient[Any, Any]) -> str:
    page = await (await test_client.get("/")).text()
    found = re.search(r'name="zenflow-csrf" content="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


async def test_every_response_carries_the_csp_and_hardening_headers(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    await _login(test_client)
    for path in ("/", "/api/config", "/static/js/main.js", "/static/app.css", "/api/nope"):
        resp = await test_client.get(path)
        assert resp.headers["Content-Security-Policy"] == CSP, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
    refused = await test_client.get("/api/config", headers={"Host": "evil.example"})
    assert refused.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP
    assert "script-src 'self'" in CSP


async def test_the_page_shell_has_no_inline_script_or_style(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    await _login(test_client)
    page = await (await test_client.get("/")).text()
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert " style=" not in page
    assert "<style" not in page
    assert "http://" not in page
    assert "https://" not in page  # no CDN


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        pytest.param("127.0.0.1:8080", True, id="ipv4-loopback"),
        pytest.param("localhost:8080", True, id="localhost"),
        pytest.param("[::1]:8080", True, id="ipv6-loopback"),
        pytest.param("LOCALHOST", True, id="case"),
        pytest.param("evil.example:8080", False, id="rebinding"),
        pytest.param("127.0.0.1.evil.example", False, id="prefix"),
        pytest.param("", False, id="empty"),
    ],
)
def test_host_check(host: str, allowed: bool) -> None:
    assert Guard.create(login_token=None).host_allowed(host) is allowed


async def test_foreign_host_is_refused_and_allowed_hosts_accepted(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app(login_token=None, allowed_hosts=("ui.internal",))
    assert (await test_client.get("/api/config", headers={"Host": "evil.example"})).status == 403
    assert (await test_client.get("/api/config", headers={"Host": "ui.internal:80"})).status == 200


async def test_login_is_required_and_a_wrong_token_refused(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    assert (await test_client.get("/api/flows")).status == 401
    assert (await test_client.get("/")).status == 401
    assert (await test_client.get("/?token=wrong", allow_redirects=False)).status == 401
    await _login(test_client)
    assert (await test_client.get("/api/flows")).status == 200


async def test_actions_need_the_csrf_token_and_same_origin(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app(read_only=True)
    await _login(test_client)
    url = "/api/flows/ns/f/cancel"
    assert (await test_client.post(url, json={})).status == 403
    bad = await test_client.post(url, json={}, headers={"X-CSRF-Token": "0" * 64})
    assert bad.status == 403
    token = await _csrf(test_client)
    foreign = await test_client.post(
        url, json={}, headers={"X-CSRF-Token": token, "Origin": "http://evil.example"}
    )
    assert foreign.status == 403
    assert "CSRF" in (await foreign.json())["error"]
    # With the token the request reaches the action, which this read-only server refuses.
    read_only = await test_client.post(url, json={}, headers={"X-CSRF-Token": token})
    assert read_only.status == 403
    assert "read-only" in (await read_only.json())["error"]


async def test_actions_take_json_only(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    await _login(test_client)
    token = await _csrf(test_client)
    resp = await test_client.post(
        "/api/flows/ns/f/approve", data="step=a", headers={"X-CSRF-Token": token}
    )
    assert resp.status == 400
    assert "JSON" in (await resp.json())["error"]


async def test_healthz_needs_no_login_but_the_host_check_holds(ui_app: MakeClient) -> None:
    test_client, _ = await ui_app()
    resp = await test_client.get("/healthz")
    assert resp.status == 200
    assert await resp.text() == "ok\n"
    assert (await test_client.get("/healthz", headers={"Host": "evil.example"})).status == 403
