"""zenflow's own transport (zenflow.kube.connection.HttpTransport) through the request helper:
over TLS to a local HTTPS server that requires a client certificate (the server sees the bearer
token and the certificate's CN; a server signed by another CA is unreachable), paths and query
values that need quoting arrive as sent (also when a request target repeats), requests counted
by verb and held back by the token bucket, a sibling with its own limit; and on the real
control plane: a kubeconfig's token, a create, a list and a watch that an informer syncs from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from zenflow.certs import generate_ca, generate_client, generate_serving
from zenflow.envtest import ControlPlane
from zenflow.errors import UnreachableError
from zenflow.kube.connection import HttpTransport
from zenflow.kube.kubeconfig import KubeConfig, load_kube_config
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.rest import Rest
from zenflow.machinery.informer import Informer

NOW = dt.datetime.now(dt.UTC)


def pki() -> dict[str, bytes]:
    ca, ca_key = generate_ca(now=NOW, common_name="test-ca")
    cert, key = generate_serving(ca_cert_pem=ca, ca_key_pem=ca_key, hosts=["127.0.0.1"], now=NOW)
    client_cert, client_key = generate_client(
        ca_cert_pem=ca, ca_key_pem=ca_key, common_name="alice", now=NOW
    )
    return {
        "ca": ca,
        "cert": cert,
        "key": key,
        "client_cert": client_cert,
        "client_key": client_key,
    }


Target = tuple[str, list[tuple[str, str]]]
"""A request's path and query, as the server decoded them."""
Served = tuple[web.AppRunner, int, list[Any], list[Target]]


async def serve(tmp_path: Path, files: dict[str, bytes]) -> Served:
    seen: list[Any] = []
    targets: list[Target] = []

    async def handler(request: web.Request) -> web.Response:
        targets.append((request.path, list(request.query.items())))
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        subject = dict(x[0] for x in (peer or {}).get("subject", ()))
        seen.append(
            (request.method, request.headers.get("Authorization"), subject.get("commonName"))
        )
        return web.json_response({"kind": "Status", "ok": True})

    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca"))
    ctx.load_cert_chain(tmp_path / "cert", tmp_path / "key")
    ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port, seen, targets


Server = tuple[int, list[Any], dict[str, bytes], list[Target]]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    files = pki()
    runner, port, seen, targets = await serve(tmp_path, files)
    try:
        yield port, seen, files, targets
    finally:
        await runner.cleanup()


def alice(port: int, files: dict[str, bytes], *, token: str | None = None) -> KubeConfig:
    """The server's address, CA and alice's client certificate (and ``token`` when given)."""
    return KubeConfig(
        host=f"https://127.0.0.1:{port}",
        ca_data=files["ca"],
        cert_data=files["client_cert"],
        key_data=files["client_key"],
        token=token,
    )


async def test_tls_with_a_client_certificate_and_a_token(server: Server) -> None:
    port, seen, files, _ = server
    transport = HttpTransport(alice(port, files, token="t0k"), qps=1000, burst=10)
    try:
        rest = Rest(transport)
        assert await rest.get("/api/v1/namespaces") == {"kind": "Status", "ok": True}
        await rest.merge_patch("/api/v1/namespaces/x", {"metadata": {}})
        assert seen == [("GET", "Bearer t0k", "alice"), ("PATCH", "Bearer t0k", "alice")]
        assert transport.requests == {"GET": 1, "PATCH": 1}
    finally:
        await transport.close()


async def test_a_server_of_another_ca_is_unreachable(server: Server) -> None:
    port, seen, _, _ = server
    other_ca, _ = generate_ca(now=NOW, common_name="other")
    transport = HttpTransport(KubeConfig(host=f"https://127.0.0.1:{port}", ca_data=other_ca))
    try:
        with pytest.raises(UnreachableError):
            await Rest(transport, timeout=10).get("/version")
        assert seen == []
    finally:
        await transport.close()


async def test_paths_and_query_values_arrive_as_sent(server: Server) -> None:
    port, _, files, targets = server
    transport = HttpTransport(alice(port, files))
    selector = [("labelSelector", "tier in (web,db),app!=x y"), ("fieldSelector", "a=b&c=d")]
    sent = [
        ("/api/v1/namespaces/ns/pods", selector),
        ("/api/v1/namespaces/ns/pods", selector),  # the same target again
        ("/api/v1/namespaces/ns/pods", [("limit", "5"), ("continue", "eyJ2Ijo+/=")]),
        ("/apis/x/v1/namespaces/ns/a%20b", []),
        ("/api/v1/namespaces/ns/pods", []),
    ]
    try:
        rest = Rest(transport)
        for path, query in sent:
            await rest.get(path, query)
        assert targets == [
            ("/api/v1/namespaces/ns/pods", selector),
            ("/api/v1/namespaces/ns/pods", selector),
            ("/api/v1/namespaces/ns/pods", [("limit", "5"), ("continue", "eyJ2Ijo+/=")]),
            ("/apis/x/v1/namespaces/ns/a b", []),
            ("/api/v1/namespaces/ns/pods", []),
        ]
    finally:
        await transport.close()


async def test_the_bucket_holds_requests_back_and_a_sibling_has_its_own(server: Server) -> None:
    port, _, files, _ = server
    counted: list[str] = []
    slow = HttpTransport(alice(port, files), qps=0.5, burst=1, on_request=counted.append)
    fast = slow.sibling(qps=1000, burst=100)
    try:
        await Rest(slow).get("/a")  # the burst
        held = asyncio.create_task(Rest(slow).get("/b"))  # waits about 2 s for a token
        for _ in range(5):
            await Rest(fast).get("/c")
        assert not held.done()
        held.cancel()
        assert slow.requests == {"GET": 1}
        assert fast.requests == {"GET": 5}
        assert counted == ["GET"] * 6  # the metric callback is shared
    finally:
        await slow.close()
        await fast.close()


@pytest.mark.integration
async def test_on_the_real_control_plane(control_plane: ControlPlane, namespace: str) -> None:
    transport = HttpTransport(load_kube_config(str(control_plane.kubeconfig_path), env={}))
    try:
        rest = Rest(transport)
        path = f"/api/v1/namespaces/{namespace}/configmaps"
        await rest.create(path, {"metadata": {"name": "one"}, "data": {"k": "v"}})
        listed = await rest.get(path)
        assert "one" in [i["metadata"]["name"] for i in listed["items"]]
        informer = Informer(
            KubeListerWatcher(transport, group="", version="v1", plural="configmaps",
                              namespace=namespace)
        )  # fmt: skip
        task = asyncio.create_task(informer.run())
        try:
            async with asyncio.timeout(30):
                await informer.wait_synced()
            await rest.create(path, {"metadata": {"name": "two"}})
            async with asyncio.timeout(30):
                while informer.store.get(f"{namespace}/two") is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
        assert transport.requests["POST"] == 2
    finally:
        await transport.close()
