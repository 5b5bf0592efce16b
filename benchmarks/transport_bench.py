"""Benchmark: the controller's CPU per watch event and per request on a TLS connection, against
the floor under it — where the fixed cost of a message goes (docs/BENCHMARKS.md, "Controller CPU
per step").

A server process of its own (aiohttp over TLS on loopback) streams Job-like watch events (about
1.7 KB; the first line prints the size), one chunk each and ``--gap-ms`` apart, so that each
arrives on its own as the API server's do, and answers POSTs with a Job-like object. The client
(this process, on the controller's event loop, ``zenflow.cli.eventloop``) reads them three ways
and reports its own CPU time per message:

* watch: a bare asyncio ``Protocol`` over TLS counting bytes (the floor: kernel, TLS and event
  loop), aiohttp reading the chunked answer, and zenflow's ``KubeListerWatcher.watch`` (lines
  split and each decoded);
* request: aiohttp's POST with a prepared body, and zenflow's ``Rest.create`` (encode, send,
  status check, decode).

Run: ``.venv/bin/python -m benchmarks.transport_bench [--events N] [--requests N]
[--gap-ms MS]``. Prints figures; asserts nothing. The machine's other load changes the figures:
compare the lines of one run with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import multiprocessing
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from zenflow import boundedjson, certs
from zenflow.cli import eventloop
from zenflow.kube.connection import HttpTransport
from zenflow.kube.kubeconfig import KubeConfig
from zenflow.kube.listwatch import KubeListerWatcher
from zenflow.kube.rest import Rest


def job(i: int) -> dict[str, Any]:
    """A Job as the API server sends a zenflow step's: managed fields, pod template, status."""
    name = f"flow-{i}-step-1"
    labels = {"app.kubernetes.io/managed-by": "zenflow", "zenflow.io/jobflow": f"flow-{i}"}
    pod_labels = {**labels, "batch.kubernetes.io/job-name": name, "job-name": name}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{i:08d}-0000-4000-8000-000000000000",
            "resourceVersion": str(1000 + i),
            "generation": 1,
            "creationTimestamp": "2026-11-30T05:00:00Z",
            "labels": {**labels, "zenflow.io/step": "step-1", "zenflow.io/attempt": "1"},
            "annotations": {"zenflow.io/retry-count": "0"},
            "ownerReferences": [
                {
                    "apiVersion": "workflow.zen.io/v1alpha1",
                    "kind": "JobFlow",
                    "name": f"flow-{i}",
                    "uid": "11111111-0000-4000-8000-000000000000",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": manager,
                    "operation": "Update",
                    "apiVersion": "batch/v1",
                    "time": "2026-11-30T05:00:01Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                }
                for manager, fields in (
                    ("zenflow", {"f:metadata": {"f:labels": {".": {}}}, "f:spec": {}}),
                    ("kube-controller-manager", {"f:status": {"f:active": {}, "f:ready": {}}}),
                )
            ],
        },
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 0,
            "completionMode": "NonIndexed",
            "suspend": False,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid"}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox:1.36",
                            "command": ["sh", "-c", "echo hello"],
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent",
                        }
                    ],
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                },
            },
        },
        "status": {"startTime": "2026-11-30T05:00:01Z", "active": 1, "ready": 0},
    }


def serve(ready: Any, cert: str, key: str, events: int, gap_s: float) -> None:
    """The server process: ``/watch`` streams ``events`` events ``gap_s`` apart, ``/jobs``
    answers a POST with a Job (201)."""
    from aiohttp import web

    answer = boundedjson.dumps(job(0))

    async def watch(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the floor's reader just hangs up
            for i in range(events):
                await resp.write(boundedjson.dumps({"type": "MODIFIED", "object": job(i)}) + b"\n")
                await asyncio.sleep(gap_s)
            await resp.write_eof()
        return resp

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, status=201, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/watch", watch)
        app.router.add_post("/jobs", create)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        ready.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


MARKER = b'"MODIFIED"'


class MarkerCount:
    """Counts ``MARKER`` in a byte stream read in pieces (one split between two reads too)."""

    def __init__(self) -> None:
        self.seen = 0
        self._tail = b""

    def feed(self, data: bytes) -> int:
        joined = self._tail + data
        self.seen += joined.count(MARKER)
        self._tail = joined[-(len(MARKER) - 1) :]  # too short to hold a whole marker again
        return self.seen


async def cpu_per(count: int, run: Callable[[], Awaitable[int]]) -> float:
    """µs of this process's CPU per message while ``run`` reads ``count`` of them."""
    began = time.process_time()
    seen = await run()
    assert seen == count, (seen, count)
    return (time.process_time() - began) * 1e6 / count


async def measure(config: KubeConfig, *, events: int, requests: int) -> list[str]:
    api = HttpTransport(config)
    rest = Rest(api)
    url = f"{config.host}/watch"

    async def floor() -> int:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        counted = MarkerCount()

        class Reader(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                transport.write(b"GET /watch HTTP/1.1\r\nHost: bench\r\n\r\n")

            def data_received(self, data: bytes) -> None:
                if counted.feed(data) >= events and not done.done():
                    done.set_result(None)

            def connection_lost(self, exc: BaseException | None) -> None:
                if not done.done():
                    done.set_result(None)

        host, port = config.host.removeprefix("https://").split(":")
        transport, _ = await loop.create_connection(
            Reader, host, int(port), ssl=config.ssl_context()
        )
        await done
        transport.close()
        return counted.seen

    async def aiohttp_watch() -> int:
        counted = MarkerCount()
        async with api._session_now().get(url) as resp:
            async for chunk in resp.content.iter_any():
                counted.feed(chunk)
        return counted.seen

    async def zenflow_watch() -> int:
        lister = KubeListerWatcher(api, group="batch", version="v1", plural="jobs")
        lister.path = "/watch"
        seen = 0
        async for _event in lister.watch("", timeout_seconds=3600, allow_bookmarks=False):
            seen += 1
        return seen

    body = job(1)
    prepared = boundedjson.dumps(body)

    async def aiohttp_post() -> int:
        session = api._session_now()
        for _ in range(requests):
            async with session.post(f"{config.host}/jobs", data=prepared) as resp:
                await resp.read()
        return requests

    async def zenflow_post() -> int:
        for _ in range(requests):
            await rest.create("/jobs", body)
        return requests

    try:
        await zenflow_post()  # connections made and warm before anything is measured
        rows = [
            (f"watch events of {len(prepared)} bytes, µs of client CPU per event:", None),
            ("  asyncio Protocol over TLS (the floor)", await cpu_per(events, floor)),
            ("  aiohttp, chunked answer", await cpu_per(events, aiohttp_watch)),
            ("  zenflow watch (lines, decoded)", await cpu_per(events, zenflow_watch)),
            ("requests (POST, a Job as body and answer), µs of client CPU per request:", None),
            ("  aiohttp, prepared body", await cpu_per(requests, aiohttp_post)),
            ("  zenflow Rest.create (encode, decode)", await cpu_per(requests, zenflow_post)),
        ]
        lines = [label if value is None else f"{label:44s}{value:7.1f}" for label, value in rows]
    finally:
        await api.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=3000, help="watch events per reader")
    parser.add_argument("--requests", type=int, default=2000, help="POSTs per client")
    parser.add_argument("--gap-ms", type=float, default=1.0, help="time between two events")
    args = parser.parse_args()
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = certs.generate_ca(now=now)
    cert, key = certs.generate_serving(
        ca_cert_pem=ca, ca_key_pem=ca_key, hosts=["127.0.0.1"], now=now
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tls.crt").write_bytes(cert)
        (Path(tmp) / "tls.key").write_bytes(key)
        ready: Any = multiprocessing.Queue()
        server = multiprocessing.Process(
            target=serve,
            args=(ready, f"{tmp}/tls.crt", f"{tmp}/tls.key", args.events, args.gap_ms / 1000),
            daemon=True,
        )
        server.start()
        try:
            port = ready.get(timeout=30)
            config = KubeConfig(host=f"https://127.0.0.1:{port}", ca_data=ca, token="bench")
            lines = eventloop.run(measure(config, events=args.events, requests=args.requests))
        finally:
            server.kill()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
