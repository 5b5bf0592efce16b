"""The webhook's HTTPS server (zenflow.webhook.server) on loopback, certificate from a directory.

Aspects: TLS verified against the generated CA for 127.0.0.1; /healthz, /readyz and /metrics;
a review answered with the admission decision; bodies over the limit refused with 413 whether
announced by Content-Length or streamed; malformed bodies get 400, never 500; request metrics by
result; a changed certificate is loaded into the live server without a restart; the connection
guard closes a connection whose headers trickle in (slowloris) and one over the connection cap; a
body that does not arrive within the budget, and a review that finds the queue full, get a
denial naming their uid; /mutate answers a patch; 20,000-deep bodies are denials on both paths.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import ssl
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry

from tests.support.wait import eventually
from tests.webhook.test_admission import GOOD, Report, fake_validate, flow, review
from zenflow.certs import CertBundle, renew, service_hosts
from zenflow.webhook.admission import MAX_BODY_BYTES
from zenflow.webhook.certstore import FileCertSource
from zenflow.webhook.inline import ThreadReviews
from zenflow.webhook.server import WebhookServer
from zenflow.webhook.serving import ServingLimits

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


def guarded(
    tmp_path: Path, bundle: CertBundle, registry: CollectorRegistry, **limits: Any
) -> WebhookServer:
    write_bundle(tmp_path, bundle)
    return WebhookServer(
        source=FileCertSource(tmp_path),
        reviews=ThreadReviews(fake_validate, workers=1, max_waiting=0),
        limits=ServingLimits(**limits),
        host="127.0.0.1",
        port=0,
        registry=registry,
    )


async def tls_connect(
    server: WebhookServer, bundle: CertBundle
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
    return await asyncio.open_connection("127.0.0.1", server.port, ssl=ctx)


def closed_by_guard(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value(
        "zenflow_webhook_connections_closed_by_guard_total", {"reason": reason}
    )
    return value or 0.0


async def test_slow_headers_and_extra_connections_are_closed(
    tmp_path: Path, bundle: CertBundle, registry: CollectorRegistry
) -> None:
    server = guarded(tmp_path, bundle, registry, header_timeout=0.3, max_connections=2)
    await server.start()
    try:
        reader, writer = await tls_connect(server, bundle)
        writer.write(b"POST /validate HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        _, idle = await tls_connect(server, bundle)
        extra_reader, _ = await tls_connect(server, bundle)  # the third: over the cap
        assert await asyncio.wait_for(extra_reader.read(), 30) == b""
        assert await asyncio.wait_for(reader.read(), 30) == b""  # the header timer fired
        assert closed_by_guard(registry, "connections") == 1.0
        assert closed_by_guard(registry, "header_timeout") >= 1.0
        idle.close()
    finally:
        await server.stop()


async def test_slow_body_is_refused_within_the_budget_naming_its_uid(
    tmp_path: Path, bundle: CertBundle, registry: CollectorRegistry
) -> None:
    server = guarded(tmp_path, bundle, registry, review_budget=0.5)
    await server.start()
    try:
        reader, writer = await tls_connect(server, bundle)
        prefix = (
            b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1",'
            b'"request":{"uid":"slow-1"'
        )
        writer.write(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + prefix
        )
        answer = await asyncio.wait_for(reader.read(), 30)
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        response = json.loads(payload)["response"]
        assert (response["uid"], response["allowed"], response["status"]["code"]) == (
            "slow-1",
            False,
            408,
        )
        assert "did not arrive within the webhook's time budget" in response["status"]["message"]
    finally:
        await server.stop()


async def test_full_queue_is_a_quick_busy_denial(
    tmp_path: Path, bundle: CertBundle, registry: CollectorRegistry
) -> None:
    release = threading.Event()

    def blocking(obj: Mapping[str, Any]) -> Report:
        release.wait(30)
        return fake_validate(obj)

    write_bundle(tmp_path, bundle)
    server = WebhookServer(
        source=FileCertSource(tmp_path),
        reviews=ThreadReviews(blocking, workers=1, max_waiting=0),
        host="127.0.0.1",
        port=0,
        registry=registry,
    )
    await server.start()
    ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
            held = asyncio.create_task(s.post(url(server, "/validate"), data=review(flow(GOOD))))
            in_flight = "zenflow_webhook_requests_in_flight"
            await eventually(
                lambda: registry.get_sample_value(in_flight) == 1.0, what="first review running"
            )
            async with s.post(url(server, "/validate"), data=review(flow(GOOD))) as resp:
                response = (await resp.json())["response"]
            assert (response["allowed"], response["status"]["code"]) == (False, 429)
            assert "queue is full" in response["status"]["message"]
            assert resp.headers.get("Connection", "").lower() != "close"  # read whole: kept
            # A body longer than what is read to answer it: the connection is closed rather
            # than the rest read and thrown away.
            padded = {
                **flow(GOOD),
                "metadata": {"name": "f", "annotations": {"pad": "x" * 300_000}},
            }
            async with s.post(url(server, "/validate"), data=review(padded)) as resp:
                response = (await resp.json())["response"]
                assert (response["allowed"], response["status"]["code"]) == (False, 429)
                assert resp.headers.get("Connection", "").lower() == "close"
            release.set()
            async with await held as first:
                assert (await first.json())["response"]["allowed"] is True
    finally:
        release.set()
        await server.stop()


async def test_mutate_and_deep_bodies(
    server: WebhookServer, session: aiohttp.ClientSession
) -> None:
    async with session.post(url(server, "/mutate"), data=review(flow(GOOD))) as resp:
        assert resp.status == 200
        assert (await resp.json())["response"]["patchType"] == "JSONPatch"
    deep = (
        b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"d",'
        b'"object":' + b"[" * 20_000 + b"]" * 20_000 + b"}}"
    )
    for path in ("/validate", "/mutate"):
        async with session.post(url(server, path), data=deep) as resp:
            assert resp.status == 200
            response = (await resp.json())["response"]
        assert (response["uid"], response["allowed"], response["status"]["code"]) == (
            "d",
            False,
            400,
        )
