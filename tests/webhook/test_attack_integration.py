"""The webhook under a bounded attack, beside a leader elector on the same event loop, with the
real local API server (integration; the figures are benchmarks/webhook_bench.py's job).

The webhook (worker processes, flows authorized with SubjectAccessReviews against the real API
server) and a ``LeaderElector`` holding a real Lease share this test's event loop, as they share
the controller's. ``benchmarks.webhook_attack`` (its own process, loopback only, stopping by
itself) sends 3 MB reviews that each cost seconds of validation, back to back from 4 loops, and
holds 40 half-open connections, while this test sends normal reviews.

Aspects: every normal review gets an AdmissionReview answer naming its uid (never a 5xx, never
left hanging) and the webhook keeps judging them during the attack; no attack review gets a 5xx;
the connection guard closes the half-open connections; the elector renews its Lease throughout
and is still the leader when the attack ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import sys
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from prometheus_client import CollectorRegistry

from tests.manifests.helpers import ROOT
from tests.webhook.hostile import review_of
from zenflow.certs import renew, service_hosts
from zenflow.kube.lease import KubeLeaseStore
from zenflow.kube.rest import Rest
from zenflow.machinery.leaderelection import LeaderElector
from zenflow.webhook.authorize import FlowAuthorizer
from zenflow.webhook.certstore import FileCertSource
from zenflow.webhook.server import WebhookServer
from zenflow.webhook.serving import ServingLimits

NORMAL = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "normal"},
    "spec": {"steps": [{"name": "a", "run": {"image": "busybox", "command": ["true"]}}]},
}


async def normal_reviews(url: str, ctx: ssl.SSLContext, namespace: str, count: int) -> list[Any]:
    """``count`` reviews at 20/s, concurrently; each answer's (status, uid sent, body)."""

    async def one(session: aiohttp.ClientSession, i: int) -> Any:
        body = json.loads(review_of(NORMAL, uid=f"normal-{i}", user="admin", namespace=namespace))
        body["request"]["userInfo"]["groups"] = ["system:masters", "system:authenticated"]
        async with session.post(url, json=body) as resp:
            return resp.status, f"normal-{i}", await resp.json()

    timeout = aiohttp.ClientTimeout(total=60)  # bounds the test; the webhook answers in 4 s
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ctx, limit=0), timeout=timeout
    ) as session:
        tasks = []
        for i in range(count):
            tasks.append(asyncio.create_task(one(session, i)))
            await asyncio.sleep(0.05)
        return await asyncio.gather(*tasks)


async def test_normal_reviews_and_lease_renewals_survive_the_attack(
    api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    bundle = renew(
        None, hosts=service_hosts("w", namespace, ["127.0.0.1"]), now=dt.datetime.now(dt.UTC)
    )
    (tmp_path / "tls.crt").write_bytes(bundle.cert_pem)
    (tmp_path / "tls.key").write_bytes(bundle.key_pem)
    (tmp_path / "ca.crt").write_bytes(bundle.ca_cert_pem)
    registry = CollectorRegistry()
    server = WebhookServer(
        source=FileCertSource(tmp_path),
        authorizer=FlowAuthorizer(Rest(api_client), protected_namespaces=["zenflow-system"]),
        limits=ServingLimits(header_timeout=2.0),
        host="127.0.0.1",
        port=0,
        registry=registry,
    )
    elector = LeaderElector(
        "attack-lease", namespace, "webhook-test",
        store=KubeLeaseStore(api_client, namespace=namespace, name="attack-lease"),
    )  # fmt: skip
    await server.start()
    await elector.acquire()
    renewing = asyncio.create_task(elector.renew_until_lost())
    try:
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.webhook_attack", "--port", str(server.port),
            "--ca", str(tmp_path / "ca.crt"), "--seconds", "8", "--parallel", "4",
            "--half-open", "40", cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        ctx = ssl.create_default_context(cadata=bundle.ca_cert_pem.decode())
        url = f"https://127.0.0.1:{server.port}/validate"
        answers = await normal_reviews(url, ctx, namespace, count=120)
        out, _ = await attacker.communicate()
        attacked = json.loads(out)
        assert attacker.returncode == 0
        assert not renewing.done(), "the elector lost its Lease during the attack"
        assert elector.is_leader()
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        await elector.release()
        await server.stop()

    for status, uid, doc in answers:
        assert status == 200, (status, doc)
        assert doc["response"]["uid"] == uid
    judged = [doc for _, _, doc in answers if doc["response"].get("allowed")]
    assert judged, "no normal review was admitted during the attack"
    assert attacked["big_sent"] > 0
    assert not [key for key in attacked if key.startswith("big_http5")], attacked
    closed = registry.get_sample_value(
        "zenflow_webhook_connections_closed_by_guard_total", {"reason": "header_timeout"}
    )
    assert (closed or 0) > 0
