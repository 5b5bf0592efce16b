"""The delaying queue: ``add_after`` on top of the work queue (client-go ``DelayingInterface``).

Each waiting key holds one clock timer. Invariants:

- a key is in ``_waiting`` iff it has a live timer, and its ready time is the earliest requested
  since it last became ready (a later ``add_after`` never postpones it);
- waiting keys are not in the queue proper, so they do not count in ``len()`` / depth.
"""

from __future__ import annotations

from typing import Generic

from zenflow.machinery.clock import Clock, TimerHandle
from zenflow.machinery.metrics import QueueMetrics
from zenflow.machinery.queue import K, WorkQueue


class DelayingQueue(WorkQueue[K], Generic[K]):
    def __init__(
        self,
        name: str = "",
        *,
        clock: Clock | None = None,
        metrics: QueueMetrics | None = None,
    ) -> None:
        super().__init__(name, clock=clock, metrics=metrics)
        self._waiting: dict[K, tuple[float, TimerHandle]] = {}

    def add_after(self, key: K, seconds: float) -> None:
        """Add ``key`` once ``seconds`` have passed; ``seconds <= 0`` adds now."""
        if self._shutting_down:
            return
        self._metrics.retry()
        if seconds <= 0:
            self.add(key)
            return
        ready_at = self._clock.now() + seconds
        current = self._waiting.get(key)
        if current is not None:
            if current[0] <= ready_at:
                return  # keep the earlier ready time
            current[1].cancel()
        handle = self._clock.call_at(ready_at, lambda: self._ready(key))
        self._waiting[key] = (ready_at, handle)

    def waiting(self) -> int:
        """Keys waiting for their delay to pass."""
        return len(self._waiting)

    def shutdown(self) -> None:
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        super().shutdown()

    def _ready(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)
