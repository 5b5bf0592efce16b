"""The webhook's HTTPS server (aiohttp): ``POST /validate``, ``GET /healthz|/readyz|/metrics``.

It runs on every controller replica (not gated by leadership) or alone via ``zenflow webhook``.
The admission decision itself is ``zenflow.webhook.admission.handle_review`` (pure); this module
adds TLS, body-size limits, timing, metrics and one structured log line per decision.

Invariants:
- A body larger than ``MAX_BODY_BYTES`` is refused with 413 before (or while) it is read; no
  request ever gets a 500: whatever the handler raises becomes a 4xx/denial with a message.
- ``/readyz`` is 200 only while the listener is up with a certificate loaded; ``/healthz`` is 200
  while the process serves HTTP at all.
- The certificate is re-checked every ``cert_sync_interval`` seconds; a changed one is loaded
  into the live TLS context, so new connections get it without a restart. A failed check keeps
  the certificate in use and is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from zenflow.core.validation.validator import validate_object
from zenflow.errors import ZenflowError
from zenflow.logging import get_logger
from zenflow.webhook.admission import (
    MAX_BODY_BYTES,
    Outcome,
    Validator,
    handle_review,
    status_body,
)
from zenflow.webhook.certstore import CertFiles, CertSource
from zenflow.webhook.metrics import webhook_metrics

log = get_logger(__name__)

DEFAULT_PORT = 9443
UNSETTLED_SYNC_INTERVAL = 2.0  # seconds between checks while the caBundle is not in place
VALIDATE_PATH = "/validate"
# Exercises the validator's parts that load lazily: templating, a `when` expression, retries.
WARM_UP_FLOW: dict[str, Any] = {
    "apiVersion": "workflow.zen.io/v1alpha1",
    "kind": "JobFlow",
    "metadata": {"name": "warm-up"},
    "spec": {
        "params": [{"name": "p", "default": "x"}],
        "steps": [
            {"name": "a", "run": {"image": "busybox", "command": ["echo", "{{ params.p }}"]}},
            {
                "name": "b",
                "dependencies": ["a"],
                "when": "steps.a.phase == 'Succeeded'",
                "retryPolicy": {"limit": 1},
                "run": {"image": "busybox", "command": ["true"]},
            },
        ],
    },
}


def default_validator() -> Validator:
    """The one shared validator (the webhook, the controller and ``zenflow validate`` run it)."""

    def validate(obj: Mapping[str, Any]) -> Any:
        return validate_object(obj)

    return validate


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body), content_type="application/json")


class WebhookServer:
    """An aiohttp HTTPS server for admission reviews whose certificate comes from ``source``."""

    def __init__(
        self,
        *,
        source: CertSource,
        validate: Validator | None = None,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        cert_sync_interval: float = 60.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._source = source
        self._validate = validate
        self._host = host
        self._port = port
        self._sync_interval = cert_sync_interval
        self._registry = registry
        self._metrics = webhook_metrics(registry)
        self._runner: web.AppRunner | None = None
        self._ssl: ssl.SSLContext | None = None
        self._cert: CertFiles | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self.port = port
        """The bound port (differs from the requested one when that was 0)."""

    @property
    def ready(self) -> bool:
        return self._runner is not None and self._cert is not None

    def _app(self) -> web.Application:
        # client_max_size bounds what request.read() buffers; one byte over is a 413.
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(VALIDATE_PATH, self._handle_validate)
        app.router.add_get("/healthz", self._handle_healthz)
        app.router.add_get("/readyz", self._handle_readyz)
        app.router.add_get("/metrics", self._handle_metrics)
        return app

    async def _handle_healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _handle_metrics(self, _request: web.Request) -> web.Response:
        # Standalone mode's scrape endpoint; in the controller the metrics server has it too.
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _handle_readyz(self, _request: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="ok")
        return web.Response(status=503, text="certificate not loaded")

    async def _read_body(self, request: web.Request) -> bytes | Outcome:
        too_large = Outcome(
            http_status=413,
            body=status_body(
                413,
                "RequestEntityTooLarge",
                f"admission review bodies are limited to {MAX_BODY_BYTES} bytes",
            ),
            result="rejected",
        )
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return too_large
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            return too_large

    async def _handle_validate(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        self._metrics.in_flight.inc()
        try:
            body = await self._read_body(request)
            if isinstance(body, Outcome):
                outcome = body
            else:
                if self._validate is None:  # start() resolves it; kept for direct handler use
                    self._validate = default_validator()
                outcome = handle_review(body, validate=self._validate)
        finally:
            self._metrics.in_flight.dec()
        elapsed = time.perf_counter() - started
        self._metrics.requests.labels(outcome.kind, outcome.operation, outcome.result).inc()
        self._metrics.latency.labels(outcome.kind).observe(elapsed)
        self._log(outcome, elapsed)
        return _json(outcome.http_status, outcome.body)

    def _log(self, outcome: Outcome, elapsed: float) -> None:
        fields: dict[str, Any] = {
            "kind": outcome.kind,
            "operation": outcome.operation,
            "namespace": outcome.namespace,
            "name": outcome.name,
            "user": outcome.username,
            "allowed": outcome.result == "allowed",
            "result": outcome.result,
            "duration_ms": round(elapsed * 1000, 3),
        }
        if outcome.result == "rejected":
            log.warning(
                "admission_request_rejected",
                status=outcome.http_status,
                **fields,
                message=outcome.body.get("message", ""),
            )
        elif outcome.result == "error":
            log.error("admission_validator_failed", **fields, error=outcome.error)
        else:
            log.info(
                "admission_reviewed",
                **fields,
                problems=list(outcome.messages),
                warnings=len(outcome.warnings),
            )
        if outcome.approval is not None:
            # The audit trail of approvals: the identity is the API server's, not the client's.
            log.info(
                "flow_approval_audited",
                namespace=outcome.namespace,
                name=outcome.name,
                approve=outcome.approval.value,
                user=outcome.approval.username,
                groups=list(outcome.approval.groups),
                allowed=outcome.result == "allowed",
            )

    def _load(self, files: CertFiles) -> None:
        if self._ssl is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            self._ssl = ctx
        # Loading into the live context: connections accepted from now on use the new pair.
        self._ssl.load_cert_chain(str(files.cert_path), str(files.key_path))
        self._cert = files
        self._metrics.cert_expiry.set(files.not_after.timestamp())

    def _warm_up(self) -> None:
        """Resolve the validator and run it once, so its lazy imports and expression compilers
        are loaded before the first review (which the apiserver times out at a few seconds)."""
        if self._validate is None:
            self._validate = default_validator()
        try:
            self._validate(WARM_UP_FLOW)
        except Exception as exc:  # a warm-up failure must not stop the server; reviews report it
            log.warning("webhook_warm_up_failed", error=repr(exc))

    async def start(self) -> None:
        """Get the certificate, bind, and start serving; returns once listening."""
        self._warm_up()
        self._load(await self._source.refresh())
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # the asyncio server, for the bound port
        if isinstance(server, asyncio.Server) and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        self._sync_task = asyncio.create_task(self._sync_loop(), name="webhook-cert-sync")
        log.info(
            "webhook_started",
            host=self._host,
            port=self.port,
            cert_not_after=self._cert.not_after.isoformat() if self._cert else "",
        )

    async def sync_certificate(self) -> bool:
        """Re-check the certificate now; True when a new one was loaded."""
        files = await self._source.refresh()
        if self._cert is not None and files.fingerprint == self._cert.fingerprint:
            return False
        self._load(files)
        log.info("webhook_cert_reloaded", not_after=files.not_after.isoformat())
        return True

    async def _sync_loop(self) -> None:
        while True:
            unsettled = min(UNSETTLED_SYNC_INTERVAL, self._sync_interval)
            await asyncio.sleep(self._sync_interval if self._source.settled else unsettled)
            try:
                await self.sync_certificate()
            except (ZenflowError, OSError, ValueError, ssl.SSLError) as exc:
                log.warning("webhook_cert_sync_failed", error=str(exc))
            except Exception as exc:  # the loop must outlive any one failed check
                log.error("webhook_cert_sync_failed", error=repr(exc), exc_info=True)

    async def stop(self) -> None:
        """Stop listening and close open connections. Idempotent."""
        if self._sync_task is not None:
            self._sync_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._sync_task
            self._sync_task = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("webhook_stopped", port=self.port)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (the shape of a manager runnable)."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
