"""The work queue: client-go's ``workqueue.Type`` in asyncio.

Keys, not events, are queued (level-triggered). Invariants:

- every key in ``_queue`` is in ``_dirty`` and not in ``_processing``, and appears once;
- a key is in ``_processing`` from ``get`` until ``done``: no two workers ever hold it;
- a key added while processing stays only in ``_dirty`` and is queued again by ``done``.

``get`` returns ``None`` once the queue is shut down and empty; that is the only way it reports
shutdown (no exception), so a worker loop is ``while (key := await q.get()) is not None``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.metrics import NoopQueueMetrics, QueueMetrics

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """A FIFO of unique keys with dirty/processing sets, shutdown and drain."""

    def __init__(
        self,
        name: str = "",
        *,
        clock: Clock | None = None,
        metrics: QueueMetrics | None = None,
    ) -> None:
        self.name = name
        self._clock: Clock = clock or RealClock()
        self._metrics: QueueMetrics = metrics or NoopQueueMetrics()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drained: asyncio.Future[None] | None = None
        self._shutting_down = False

    def add(self, key: K) -> None:
        """Queue ``key`` unless it is already queued; ignored after shutdown."""
        if self._shutting_down or key in self._dirty:
            return
        self._metrics.add(key)
        self._dirty.add(key)
        if key in self._processing:
            return  # ``done`` will queue it again
        self._queue.append(key)
        self._wake_one()

    def len(self) -> int:
        """Keys ready to be handed out (not those being processed or waiting for a delay)."""
        return len(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    async def get(self) -> K | None:
        """Wait for a key and mark it processing; ``None`` once shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                return None
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                # A wake-up consumed by a cancelled getter is passed on, never lost.
                if fut.done() and not fut.cancelled():
                    self._wake_one()
                else:
                    self._remove_getter(fut)
                raise
        key = self._queue.popleft()
        self._metrics.get(key)
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        """The worker finished ``key``; queue it again if it was added meanwhile."""
        if key not in self._processing:
            return
        self._metrics.done(key)
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()
        if not self._processing and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def shutdown(self) -> None:
        """Stop accepting keys; queued keys are still handed out, then ``get`` returns None."""
        self._shutting_down = True
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shutdown_with_drain(self) -> None:
        """Shut down and return once every key being processed is ``done``."""
        self.shutdown()
        if not self._processing:
            return
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._drained)

    def shutting_down(self) -> bool:
        return self._shutting_down

    def processing(self) -> int:
        return len(self._processing)

    def pending(self, key: K) -> bool:
        """Whether ``key`` is queued or being processed: true from ``add`` until the ``done``
        of a worker that took it after that add (a delayed add counts once it fires). Once it
        is false again, a reconcile that began after the add has finished."""
        return key in self._dirty or key in self._processing

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _remove_getter(self, fut: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self._getters.remove(fut)
