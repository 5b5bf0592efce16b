"""A controller: N workers pulling keys from a rate-limiting queue and reconciling them.

Every outcome goes through ``handle_result`` (MACHINERY.md #26). A reconcile that raises never
kills its worker. Each reconcile runs with structlog context bound (controller, namespace, name,
reconcile_id) so everything it logs carries them. ``stop`` shuts the queue down with drain: new
adds are ignored, keys already queued are still handed out (client-go semantics), keys in flight
finish, and the workers return once the queue is empty; the manager bounds this with its
shutdown timeout and cancels what is left (while still holding the lease).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import structlog

from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.metrics import MachineryMetrics, labelled
from zenflow.machinery.ratelimiting import RateLimitingQueue
from zenflow.machinery.reconcile import (
    ObjectKey,
    Outcome,
    Result,
    TerminalError,
    handle_result,
    split_key,
)

log = get_logger(__name__)

Reconcile = Callable[[ObjectKey], Awaitable[Result]]
OnTerminal = Callable[[ObjectKey, TerminalError], Awaitable[None]]


class Controller:
    """A leader-only runnable (``needs_leader=True`` when added to the Manager)."""

    def __init__(
        self,
        name: str,
        queue: RateLimitingQueue[ObjectKey],
        reconcile: Reconcile,
        workers: int = 1,
        *,
        metrics: MachineryMetrics | None = None,
        clock: Clock | None = None,
        on_terminal: OnTerminal | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.name = name
        self.queue = queue
        self.workers = workers
        self._reconcile = reconcile
        self._clock: Clock = clock or RealClock()
        self._on_terminal = on_terminal
        self._metrics = metrics
        if metrics is not None:
            # Children looked up once each, on first use (as before: no series until then).
            self._active_workers = labelled(metrics.active_workers)
            self._reconcile_time = labelled(metrics.reconcile_time)
            self._reconcile_errors = labelled(metrics.reconcile_errors)
            self._reconcile_total = labelled(metrics.reconcile_total)
        self.reconciles = 0
        self.active = 0

    async def run(self) -> None:
        """Run the workers until the queue is shut down (``stop``) or this task is cancelled."""
        log.info("controller_started", controller=self.name, workers=self.workers)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(self.workers):
                    tg.create_task(self._worker(), name=f"{self.name}-worker-{i}")
        finally:
            log.info("controller_stopped", controller=self.name)

    async def stop(self) -> None:
        """Shut the queue down (adds ignored) and wait until no key is in flight."""
        await self.queue.shutdown_with_drain()

    async def _worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def process(self, key: ObjectKey) -> Outcome:
        """Reconcile one key and apply the outcome to the queue (the caller calls ``done``)."""
        namespace, name = _split(key)
        reconcile_id = secrets.token_hex(6)
        started = self._clock.now()
        self.active += 1
        if self._metrics is not None:
            self._active_workers(self.name).inc()
        with structlog.contextvars.bound_contextvars(
            controller=self.name, namespace=namespace, name=name, reconcile_id=reconcile_id
        ):
            outcome_value: Result | BaseException
            try:
                result = await self._reconcile(key)
                if not isinstance(result, Result):
                    raise TypeError(f"reconcile returned {type(result).__name__}, not Result")
                outcome_value = result
            except asyncio.CancelledError:
                # Shutting down mid-reconcile: retry promptly on whoever leads next.
                self.queue.add_rate_limited(key)
                raise
            except Exception as exc:
                outcome_value = exc
            finally:
                self.active -= 1
                if self._metrics is not None:
                    self._active_workers(self.name).dec()
            outcome = handle_result(self.queue, key, outcome_value)
            elapsed = self._clock.now() - started
            self.reconciles += 1
            self._record(outcome, elapsed)
            await self._log_outcome(key, outcome, outcome_value, elapsed)
        return outcome

    def _record(self, outcome: Outcome, elapsed: float) -> None:
        if self._metrics is None:
            return
        self._reconcile_total(self.name, outcome.value).inc()
        self._reconcile_time(self.name).observe(elapsed)
        if outcome in (Outcome.ERROR, Outcome.TERMINAL):
            self._reconcile_errors(self.name).inc()

    async def _log_outcome(
        self, key: ObjectKey, outcome: Outcome, value: Result | BaseException, elapsed: float
    ) -> None:
        ms = round(elapsed * 1000, 3)
        if outcome is Outcome.ERROR:
            log.warning(
                "reconcile_failed",
                error=repr(value),
                requeues=self.queue.num_requeues(key),
                duration_ms=ms,
                exc_info=value if isinstance(value, BaseException) else None,
            )
        elif outcome is Outcome.TERMINAL:
            assert isinstance(value, TerminalError)
            log.warning("reconcile_terminal_error", error=str(value), duration_ms=ms)
            if self._on_terminal is not None:
                try:
                    await self._on_terminal(key, value)
                except Exception as exc:
                    log.warning("terminal_error_record_failed", error=repr(exc))
        else:
            requeue = value.requeue_after if isinstance(value, Result) else None
            log.debug("reconciled", requeue_after=requeue, duration_ms=ms)


def _split(key: ObjectKey) -> tuple[str, str]:
    try:
        return split_key(key)
    except ValueError:
        return "", key
