"""The webhook's HTTPS server (zenflow.webhook.server) on loopback, certificate from a directory.

Aspects: TLS verified against the generated CA for 127.0.0.1; /healthz, /readyz and /metrics;
a review answered with the admission decision; bodies over the limit refused with 413 whether
announced by Content-Length or streamed; malformed bodies get 400, never 500; request metrics by
result; a changed certificate is loaded into the live server without a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry

from tests.webhook.test_admission import GOOD, fake_validate, flow, review
from zenflow.certs import CertBundle, renew, service_hosts
from zenflow.webhook.admission import MAX_BODY_BYTES
from zenflow.webhook.certstore import FileCertSource
from zenflow.webhook.server import WebhookServer

HOSTS = service_hosts("zenflow-webhook", "zenflow-system", ["127.0.0.1"])


def write_bundle(directory: Path, bundle: CertBundle) -> None:
    (directory / "tls.crt").write_bytes(bundle.cert_pem)
    (directory / "tls.key").write_bytes(bundle.key_pem)


@pytest.fixture
def bundle() -> CertBundle:
    return renew(None, hosts=HOSTS, now=dt.datetime.now(dt.UTC))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
async def server(
    tmp_path: Path, bundle: CertBundle, registry: CollectorRegistry
) -> AsyncIterator[WebhookServer]:
    write_bundle(tmp_path, bundle)
    srv = WebhookServer(
        source=FileCertSource(tmp_path),
        validate=fake_validate,
        host="127.0.0.1",
        port=0,
        registry=registry,
    )
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def session(bundle: CertBundle) -> AsyncIterator[aiohttp.ClientSession]:
    ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        yield s


def url(server: WebhookServer, path: str) -> str:
    return f"https://127.0.0.1:{server.port}{path}"


async def test_health_ready_and_metrics(
    server: WebhookServer, session: aiohttp.ClientSession
) -> None:
    for path in ("/healthz", "/readyz"):
        async with session.get(url(server, path)) as resp:
            assert resp.status == 200
    async with session.get(url(server, "/metrics")) as resp:
        assert "zenflow_webhook_certificate_expiry_timestamp_seconds" in await resp.text()


async def test_review_answered(
    server: WebhookServer, session: aiohttp.ClientSession, registry: CollectorRegistry
) -> None:
    async with session.post(url(server, "/validate"), data=review(flow(GOOD))) as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["response"] == {"uid": "1234-abcd", "allowed": True}
    async with session.post(url(server, "/validate"), data=review(flow({"name": "x"}))) as resp:
        doc = await resp.json()
    assert doc["response"]["status"]["message"] == (
        'JobFlow "f" is invalid: spec.steps[0].image: required'
    )
    labels = {"kind": "JobFlow", "operation": "CREATE"}
    assert (
        registry.get_sample_value("zenflow_webhook_requests_total", {**labels, "result": "allowed"})
        == 1.0
    )
    assert (
        registry.get_sample_value("zenflow_webhook_requests_total", {**labels, "result": "denied"})
        == 1.0
    )
    assert (
        registry.get_sample_value(
            "zenflow_webhook_request_duration_seconds_count", {"kind": "JobFlow"}
        )
        == 2.0
    )


async def test_oversized_bodies_get_413(
    server: WebhookServer, session: aiohttp.ClientSession
) -> None:
    big = b" " * (MAX_BODY_BYTES + 10)
    async with session.post(url(server, "/validate"), data=io.BytesIO(big)) as resp:
        assert resp.status == 413
        assert (await resp.json())["reason"] == "RequestEntityTooLarge"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * (1024 * 1024)

    async with session.post(url(server, "/validate"), data=chunks()) as resp:
        assert resp.status == 413


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b'{"apiVersion": "v1", "kind": "Pod"}', id="pod"),
    ],
)
async def test_malformed_bodies_get_400(
    server: WebhookServer, session: aiohttp.ClientSession, body: bytes
) -> None:
    async with session.post(url(server, "/validate"), data=body) as resp:
        assert resp.status == 400
        doc: Mapping[str, Any] = json.loads(await resp.read())
    assert doc["kind"] == "Status"
    assert doc["message"]


async def test_changed_certificate_is_reloaded(
    server: WebhookServer, tmp_path: Path, bundle: CertBundle
) -> None:
    assert not await server.sync_certificate()
    renewed = renew(bundle, hosts=HOSTS, now=dt.datetime.now(dt.UTC))
    write_bundle(tmp_path, renewed)
    assert await server.sync_certificate()
    ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
    _, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=ctx)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        await writer.wait_closed()
    served = x509.load_der_x509_certificate(der)
    assert served == x509.load_pem_x509_certificate(renewed.cert_pem)
