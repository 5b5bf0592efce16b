"""The webhook's HTTPS server (aiohttp): ``POST /validate`` and ``/mutate``, ``GET /healthz``,
``/readyz``, ``/metrics``.

It runs on every controller replica (not gated by leadership) or alone via ``zenflow webhook``.
The decisions themselves are pure (``admission.handle_review``, ``mutation.handle_mutation``) and
run in a ``ReviewExecutor`` (by default worker processes, ``zenflow.webhook.pool``), never on this
event loop, which the controller's informers, workers and leader election share. This module adds
TLS, the connection guard (``serving``), the time budget, body limits, the validation of flows
that use templates against the templates (``templates``), the authorization of flows
(``authorize``), metrics and one structured log line per decision.

Invariants:
- Every review is answered within ``limits.review_budget`` seconds of its headers (reading the
  body, waiting for a worker, reviewing and authorizing included); past it, the answer is a
  ``timeout`` denial. A body over ``MAX_BODY_BYTES`` is refused with 413 before (or while) it
  is read; a review that finds its lane full is refused at once (``busy``) after reading at
  most the first 64 KiB (to name its uid).
- No request ever gets a 500: whatever goes wrong becomes a 4xx or a denial with a message.
- ``/readyz`` is 200 only while the listener is up with a certificate loaded and the executor
  started; ``/healthz`` is 200 while the process serves HTTP at all.
- The certificate is re-checked every ``cert_sync_interval`` seconds; a changed one is loaded
  into the live TLS context, so new connections get it without a restart. A failed check keeps
  the certificate in use and is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from zenflow.core.validation.validator import validate_object
from zenflow.errors import ZenflowError
from zenflow.logging import get_logger
from zenflow.webhook.admission import (
    MAX_BODY_BYTES,
    Outcome,
    Validator,
    refusal,
    status_body,
)
from zenflow.webhook.authorize import FlowAuthorizer
from zenflow.webhook.certstore import CertFiles, CertSource
from zenflow.webhook.executor import Busy, Mode, ReviewExecutor
from zenflow.webhook.flags import DEFAULT_PORT
from zenflow.webhook.inline import ThreadReviews
from zenflow.webhook.metrics import webhook_metrics
from zenflow.webhook.pool import PoolSettings, ProcessReviews
from zenflow.webhook.serving import ConnectionGuard, GuardedSite, ServingLimits
from zenflow.webhook.templates import TemplateChecker

log = get_logger(__name__)

UNSETTLED_SYNC_INTERVAL = 2.0  # seconds between checks while the caBundle is not in place
VALIDATE_PATH: Final = "/validate"
MUTATE_PATH: Final = "/mutate"
SNIFF_BYTES: Final = 64 * 1024


def default_validator() -> Validator:
    """The one shared validator (the webhook, the controller and ``zenflow validate`` run it)."""

    def validate(obj: Mapping[str, Any]) -> Any:
        return validate_object(obj)

    return validate


def _json(status: int, body: Mapping[str, Any], *, close: bool = False) -> web.Response:
    response = web.Response(status=status, body=json.dumps(body), content_type="application/json")
    if close:
        response.force_close()
    return response


def _too_large(size: str) -> Outcome:
    return Outcome(
        http_status=413,
        body=status_body(
            413,
            "RequestEntityTooLarge",
            f"admission review bodies are limited to {MAX_BODY_BYTES} bytes; got {size}",
        ),
        result="rejected",
    )


class WebhookServer:
    """An aiohttp HTTPS server for admission reviews whose certificate comes from ``source``.

    Reviews run in ``reviews`` (default: worker processes, sized by ``pool``); a ``validate``
    callable instead runs in a bounded thread pool (tests inject stand-ins this way). With an
    ``authorizer``, admitted flows are also checked against their author's permissions."""

    def __init__(
        self,
        *,
        source: CertSource,
        validate: Validator | None = None,
        reviews: ReviewExecutor | None = None,
        authorizer: FlowAuthorizer | None = None,
        templates: TemplateChecker | None = None,
        pool: PoolSettings | None = None,
        limits: ServingLimits | None = None,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        cert_sync_interval: float = 60.0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._source = source
        self._metrics = webhook_metrics(registry)
        if reviews is None:
            reviews = (
                ThreadReviews(validate)
                if validate is not None
                else ProcessReviews(pool, on_restart=self._worker_restarted)
            )
        self._reviews = reviews
        self._authorizer = authorizer
        self._templates = templates
        self.limits = limits or ServingLimits()
        self._host = host
        self._port = port
        self._sync_interval = cert_sync_interval
        self._registry = registry
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self._ssl: ssl.SSLContext | None = None
        self._cert: CertFiles | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._guard = ConnectionGuard(self.limits, on_refused=self._connection_refused)
        self._metrics.open_connections.set_function(lambda: self._guard.open)
        self.port = port
        """The bound port (differs from the requested one when that was 0)."""

    @property
    def ready(self) -> bool:
        return self._runner is not None and self._cert is not None

    def _worker_restarted(self, lane: str, reason: str) -> None:
        self._metrics.worker_restarts.labels(lane, reason).inc()

    def _connection_refused(self, reason: str) -> None:
        self._metrics.connections_refused.labels(reason).inc()

    def _app(self) -> web.Application:
        # client_max_size bounds what request.read() buffers (reviews are read by _read_body).
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post(VALIDATE_PATH, self._handle_validate)
        app.router.add_post(MUTATE_PATH, self._handle_mutate)
        app.router.add_get("/healthz", self._handle_healthz)
        app.router.add_get("/readyz", self._handle_readyz)
        app.router.add_get("/metrics", self._handle_metrics)
        return app

    async def _handle_healthz(self, request: web.Request) -> web.Response:
        self._guard.request_started(request.transport)
        return web.Response(text="ok")

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        # Standalone mode's scrape endpoint; in the controller the metrics server has it too.
        self._guard.request_started(request.transport)
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _handle_readyz(self, request: web.Request) -> web.Response:
        self._guard.request_started(request.transport)
        if self.ready:
            return web.Response(text="ok")
        return web.Response(status=503, text="certificate not loaded")

    async def _read_prefix(self, request: web.Request, deadline: float) -> bytes:
        """Up to ``SNIFF_BYTES`` of the body (enough to find the review's uid)."""
        prefix = bytearray()
        with suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while len(prefix) < SNIFF_BYTES:
                    chunk = await request.content.readany()
                    if not chunk:
                        break
                    prefix += chunk
        return bytes(prefix[:SNIFF_BYTES])

    async def _read_body(self, request: web.Request, deadline: float) -> bytes | Outcome:
        """The whole body, or the answer when it is too large or too slow to arrive."""
        body = bytearray()
        try:
            async with asyncio.timeout_at(deadline):
                while chunk := await request.content.readany():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        return _too_large("more (streamed)")
        except TimeoutError:
            return refusal(
                bytes(body[:SNIFF_BYTES]),
                code=408,
                reason="Timeout",
                message="the request body did not arrive within the webhook's time budget of "
                f"{self.limits.review_budget:g} s",
                result="timeout",
            )
        return bytes(body)

    async def _review(self, request: web.Request, mode: Mode) -> tuple[Outcome, bool]:
        """(the answer, whether to close the connection after it)."""
        self._guard.request_started(request.transport)
        deadline = asyncio.get_running_loop().time() + self.limits.review_budget
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return _too_large(f"{length}"), True
        large = length is None or length > self.limits.large_body_bytes
        try:
            reservation = self._reviews.reserve(large=large)
        except Busy as exc:
            prefix = await self._read_prefix(request, deadline)
            busy = refusal(
                prefix,
                code=429,
                reason="TooManyRequests",
                message=f"{exc}; the review was not judged, retry later",
                result="busy",
            )
            # A body not read to its end would be read and thrown away before the connection
            # could serve another request (aiohttp's lingering read): megabytes of TLS for
            # nothing. Such a connection is closed instead; a small body was read whole.
            return busy, not request.content.at_eof()
        with reservation:
            body = await self._read_body(request, deadline)
            if isinstance(body, Outcome):
                return body, True
            outcome = await self._reviews.review(reservation, mode, body, deadline=deadline)
            if mode == "validate" and self._templates is not None:
                # Judged where the reviews run, in this review's place (never on this loop).
                judge = functools.partial(
                    self._reviews.judge_templates, reservation, deadline=deadline
                )
                outcome = await self._templates.check(outcome, deadline=deadline, judge=judge)
        if mode == "validate" and self._authorizer is not None:
            outcome = await self._authorizer.check(outcome, deadline=deadline)
        return outcome, False

    async def _handle_validate(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        self._metrics.in_flight.inc()
        try:
            outcome, close = await self._review(request, "validate")
        finally:
            self._metrics.in_flight.dec()
        elapsed = time.perf_counter() - started
        self._metrics.requests.labels(outcome.kind, outcome.operation, outcome.result).inc()
        self._metrics.latency.labels(outcome.kind).observe(elapsed)
        self._log(outcome, elapsed)
        return _json(outcome.http_status, outcome.body, close=close)

    async def _handle_mutate(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        outcome, close = await self._review(request, "mutate")
        elapsed = time.perf_counter() - started
        self._metrics.mutations.labels(outcome.kind, outcome.operation, outcome.result).inc()
        patched = "patch" in (outcome.body.get("response") or {})
        if outcome.result == "allowed":
            log.debug("admission_mutated", kind=outcome.kind, name=outcome.name, patched=patched)
        else:
            log.warning(
                "admission_mutation_refused",
                kind=outcome.kind,
                operation=outcome.operation,
                result=outcome.result,
                status=outcome.http_status,
                message=outcome.messages[0] if outcome.messages else "",
                duration_ms=round(elapsed * 1000, 3),
            )
        return _json(outcome.http_status, outcome.body, close=close)

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
        elif outcome.result in {"busy", "timeout"}:
            log.warning("admission_review_abandoned", **fields, message=outcome.messages[0])
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

    async def start(self) -> None:
        """Get the certificate, start the review workers, bind, and start serving; returns once
        listening (the workers are warmed up by then: the first review is not slow)."""
        self._load(await self._source.refresh())
        await self._reviews.start()
        try:
            runner = web.AppRunner(
                self._app(),
                access_log=None,
                handle_signals=False,
                keepalive_timeout=self.limits.idle_timeout,
            )
            await runner.setup()
            assert self._ssl is not None
            site = GuardedSite(
                runner, self._host, self._port, ssl_context=self._ssl, guard=self._guard
            )
            try:
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
        except BaseException:
            await self._reviews.stop()
            raise
        self._runner = runner
        self.port = site.bound_port
        if self._templates is not None:
            self._templates.start()  # its cache fills while we serve (misses are read)
        self._sync_task = asyncio.create_task(self._sync_loop(), name="webhook-cert-sync")
        log.info(
            "webhook_started",
            host=self._host,
            port=self.port,
            cert_not_after=self._cert.not_after.isoformat() if self._cert else "",
            review_budget_s=self.limits.review_budget,
            authorize_flows=self._authorizer is not None,
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
            await self._reviews.stop()
            log.info("webhook_stopped", port=self.port)
        if self._templates is not None:
            await self._templates.stop()
        if self._authorizer is not None:
            await self._authorizer.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (the shape of a manager runnable)."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
