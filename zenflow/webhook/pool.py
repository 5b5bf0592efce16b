"""Reviews judged in worker processes, in two lanes, so that no body can hold up the others.

``ProcessReviews`` keeps two lanes of ``zenflow.webhook.worker`` processes:

- the *fast* lane takes the bodies the server calls small (``ServingLimits.large_body_bytes``),
  and gives each review at most its ``slice`` seconds of a worker;
- the *slow* lane (its processes run at a lower CPU priority, ``nice``) takes larger or
  unknown-size bodies, and the reviews that ran out of their fast-lane slice (they start over
  there, with what is left of their budget).

A normal review (a few KiB, milliseconds) therefore waits at most one slice behind anything, however
expensive or large the other reviews are; the expensive ones share the slow lane and, past the
budget, get a clear ``timeout`` refusal. A flow that uses templates is judged with them
(``judge_templates``, once the server has read them) in the same lane, the same way.

Invariants:
- A lane admits at most ``workers + max_waiting`` reviews at once (``reserve``); others are
  ``Busy`` at once.
- A review is answered by its deadline whatever its worker does: past the deadline the caller
  gets a ``timeout`` refusal at once while the worker finishes (or is interrupted by its own
  alarm) in the background and only then takes another review.
- A worker runs one review at a time and is back in its lane's idle queue after each answer; a
  worker that outlives its alarm by ``GRACE`` seconds, or dies, is killed and replaced in the
  background (with backoff if spawning fails); a review it was still answering is refused.
- The fast lane's slice is CPU time (the worker's own), so on a busy machine a normal review is
  not pushed out of the fast lane for time spent waiting for a CPU.
- ``stop`` kills every worker and cancels pending replacements; nothing outlives the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from zenflow.logging import get_logger
from zenflow.machinery.backoff import Backoff
from zenflow.machinery.clock import RealClock
from zenflow.webhook.admission import Outcome, refusal
from zenflow.webhook.executor import Busy, Mode, Reservation
from zenflow.webhook.templatejudge import Found, Unjudged, unjudged
from zenflow.webhook.worker import (
    MODE_MUTATE,
    MODE_TEMPLATES,
    MODE_VALIDATE,
    READY,
    REQUEST,
    RESPONSE,
    STATUS_EXPIRED,
    STATUS_RETIRING,
    STATUS_SLICED,
)

log = get_logger(__name__)

GRACE: Final = 5.0  # seconds a worker may overrun its alarm before it is killed
SPAWN_TIMEOUT: Final = 60.0

Job = Literal["validate", "mutate", "templates"]
"""What a worker is asked: a review to validate or mutate, or a flow to judge with its templates."""
CODES: Final[dict[Job, int]] = {
    "validate": MODE_VALIDATE,
    "mutate": MODE_MUTATE,
    "templates": MODE_TEMPLATES,
}

REFUSALS: Final[dict[Unjudged, tuple[int, str, str]]] = {
    "busy": (
        429,
        "TooManyRequests",
        "the review needs more than a fast-lane slice and the webhook's queue for long reviews "
        "is full; retry later",
    ),
    "error": (503, "ServiceUnavailable", "the review's worker process failed; retry"),
    "timeout": (
        504,
        "Timeout",
        "the review took longer than the webhook's time budget and was abandoned; the object "
        "is refused (make it smaller or simpler)",
    ),
}
"""A review's refusal (code, reason, message) when it could not be judged."""


class WorkerLost(Exception):
    """The worker died, or did not answer within its alarm plus ``GRACE``."""


@dataclass(frozen=True)
class LaneSettings:
    workers: int
    max_waiting: int
    slice: float | None = None  # CPU seconds of a worker per review; None: only the budget
    nice: int = 0


@dataclass(frozen=True)
class PoolSettings:
    fast: LaneSettings = LaneSettings(workers=2, max_waiting=32, slice=0.05)
    slow: LaneSettings = LaneSettings(workers=1, max_waiting=3, nice=10)
    max_worker_rss_mib: float = 192.0


class WorkerProcess:
    """One ``python -m zenflow.webhook.worker`` and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        self._stdin = proc.stdin
        self._stdout = proc.stdout
        self.pid = proc.pid

    @classmethod
    async def spawn(cls, *, nice: int, max_rss_mib: float) -> WorkerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zenflow.webhook.worker",
            "--nice", str(nice), "--max-rss-mib", str(max_rss_mib),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        worker = cls(proc)
        try:
            async with asyncio.timeout(SPAWN_TIMEOUT):
                ready = await worker._stdout.readexactly(len(READY))
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            await worker.kill()
            raise WorkerLost(f"the review worker did not start: {exc!r}") from exc
        except BaseException:
            # Cancelled before it was ready (the pool stopping while a replacement starts): the
            # process is nobody's yet, so it dies here rather than outlive the pool.
            await worker.kill()
            raise
        if ready != READY:
            await worker.kill()
            raise WorkerLost(f"the review worker said {ready!r} instead of ready")
        return worker

    async def review(
        self, job: Job, body: bytes, *, alarm: float, cpu_slice: float
    ) -> tuple[Outcome | None, bool, bool]:
        """(answer or None if a timer fired, whether it was the CPU slice, retiring).
        Raises WorkerLost (and kills the process) past ``alarm + GRACE`` or when it dies."""
        code = CODES[job]
        try:
            async with asyncio.timeout(alarm + GRACE):
                self._stdin.write(REQUEST.pack(code, alarm, cpu_slice, len(body)))
                self._stdin.write(body)
                await self._stdin.drain()
                status, length = RESPONSE.unpack(await self._stdout.readexactly(RESPONSE.size))
                data = await self._stdout.readexactly(length) if length else b""
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.kill()
            raise WorkerLost(f"review worker {self.pid}: {type(exc).__name__}") from exc
        if status in (STATUS_EXPIRED, STATUS_SLICED):
            return None, status == STATUS_SLICED, False
        # Our own process's pickle of our own dataclass: not data from the network.
        outcome = pickle.loads(data)
        if not isinstance(outcome, Outcome):
            await self.kill()
            raise WorkerLost(f"review worker {self.pid} answered {type(outcome).__name__}")
        return outcome, False, status == STATUS_RETIRING

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        with contextlib.suppress(ProcessLookupError, asyncio.CancelledError):
            await self._proc.wait()


class Lane:
    """Worker processes of one kind, an idle queue, and a bounded number of admitted reviews."""

    def __init__(
        self,
        name: str,
        settings: LaneSettings,
        *,
        max_rss_mib: float,
        on_restart: Callable[[str, str], None] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._max_rss = max_rss_mib
        self._on_restart = on_restart
        self._idle: asyncio.Queue[WorkerProcess] = asyncio.Queue()
        self._live: set[WorkerProcess] = set()
        self._replacing: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[object]] = set()  # reviews in flight, kills
        self._admitted = 0
        self._stopped = False

    @property
    def capacity(self) -> int:
        return self.settings.workers + self.settings.max_waiting

    @property
    def admitted(self) -> int:
        """Reviews holding a place (reading, waiting or running)."""
        return self._admitted

    @property
    def idle(self) -> int:
        """Workers waiting for a review."""
        return self._idle.qsize()

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return sorted(worker.pid for worker in self._live)

    def reserve(self) -> Reservation:
        if self._admitted >= self.capacity:
            raise Busy(self.name)
        self._admitted += 1
        return Reservation(self.name, self._release)

    def _release(self) -> None:
        self._admitted -= 1

    async def _spawn(self) -> WorkerProcess:
        worker = await WorkerProcess.spawn(nice=self.settings.nice, max_rss_mib=self._max_rss)
        if self._stopped:
            await worker.kill()
            raise asyncio.CancelledError
        self._live.add(worker)
        return worker

    async def start(self) -> None:
        self._stopped = False
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.settings.workers)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def stop(self) -> None:
        self._stopped = True
        for task in list(self._replacing):
            task.cancel()
        for task in list(self._replacing):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(worker.kill() for worker in list(self._live)))
        # Reviews still in flight end now (their worker is gone); kills already asked finish.
        await asyncio.gather(*list(self._background), return_exceptions=True)
        self._live.clear()
        self._idle = asyncio.Queue()

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _replace(self, worker: WorkerProcess, reason: str) -> None:
        self._live.discard(worker)
        if self._stopped:
            return
        if self._on_restart is not None:
            self._on_restart(self.name, reason)
        task = asyncio.create_task(self._respawn(), name=f"webhook-{self.name}-worker-respawn")
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _respawn(self) -> None:
        backoff = Backoff(clock=RealClock())
        while not self._stopped:
            try:
                self._idle.put_nowait(await self._spawn())
                return
            except (WorkerLost, OSError) as exc:
                log.error("webhook_worker_spawn_failed", lane=self.name, error=str(exc))
                await backoff.wait()

    async def run(self, job: Job, body: bytes, *, deadline: float) -> tuple[Outcome | None, bool]:
        """(answer or None when out of time, whether the lane's CPU slice cut it short).
        The caller holds a reservation of this lane. Raises WorkerLost."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                worker = await self._idle.get()
        except TimeoutError:
            return None, False
        alarm = deadline - loop.time()
        if alarm <= 0:
            self._idle.put_nowait(worker)
            return None, False
        cpu_slice = self.settings.slice or 0.0
        task = asyncio.create_task(worker.review(job, body, alarm=alarm, cpu_slice=cpu_slice))
        task.add_done_callback(lambda done: self._settle(worker, done))
        self._track(task)
        try:
            async with asyncio.timeout_at(deadline):
                outcome, sliced, _ = await asyncio.shield(task)
        except TimeoutError:
            return None, False  # answered now; the worker rejoins the lane when it is done
        except WorkerLost as exc:
            log.warning("webhook_worker_lost", lane=self.name, pid=worker.pid, error=str(exc))
            raise
        return outcome, sliced

    def _settle(
        self, worker: WorkerProcess, done: asyncio.Task[tuple[Outcome | None, bool, bool]]
    ) -> None:
        """Put ``worker`` back in the idle queue after a review, or replace it."""
        if self._stopped:
            return  # stop() kills every worker itself
        if done.cancelled() or done.exception() is not None:
            # Lost, or cancelled mid-frame (the pool stopping): the stream's position is unknown.
            self._kill_later(worker)
            self._replace(worker, "cancelled" if done.cancelled() else "lost")
        elif done.result()[2]:
            self._kill_later(worker)
            self._replace(worker, "memory")
        else:
            self._idle.put_nowait(worker)

    def _kill_later(self, worker: WorkerProcess) -> None:
        self._track(asyncio.create_task(worker.kill(), name=f"webhook-{self.name}-worker-kill"))


class ProcessReviews:
    """The default ``ReviewExecutor``: a fast and a slow lane of worker processes."""

    def __init__(
        self,
        settings: PoolSettings | None = None,
        *,
        on_restart: Callable[[str, str], None] | None = None,
    ) -> None:
        self.settings = settings or PoolSettings()
        rss = self.settings.max_worker_rss_mib
        self.fast = Lane("fast", self.settings.fast, max_rss_mib=rss, on_restart=on_restart)
        self.slow = Lane("slow", self.settings.slow, max_rss_mib=rss, on_restart=on_restart)

    def reserve(self, *, large: bool) -> Reservation:
        return (self.slow if large else self.fast).reserve()

    async def start(self) -> None:
        await asyncio.gather(self.fast.start(), self.slow.start())

    async def stop(self) -> None:
        await asyncio.gather(self.fast.stop(), self.slow.stop())

    async def review(
        self, reservation: Reservation, mode: Mode, body: bytes, *, deadline: float
    ) -> Outcome:
        answer = await self._run(reservation, mode, body, deadline=deadline)
        if isinstance(answer, Outcome):
            return answer
        why, error = answer
        code, reason, message = REFUSALS[why]
        return refusal(body, code=code, reason=reason, message=message, result=why, error=error)

    async def judge_templates(
        self, reservation: Reservation, outcome: Outcome, found: Found, *, deadline: float
    ) -> Outcome:
        # Our own objects to our own worker (the Outcome it answered, the templates we read).
        body = pickle.dumps((outcome, dict(found)), protocol=pickle.HIGHEST_PROTOCOL)
        answer = await self._run(reservation, "templates", body, deadline=deadline)
        return answer if isinstance(answer, Outcome) else unjudged(outcome, *answer)

    async def _run(
        self, reservation: Reservation, job: Job, body: bytes, *, deadline: float
    ) -> Outcome | tuple[Unjudged, str]:
        """The worker's answer, in the reservation's lane (a fast-lane job cut short by its
        slice starts over in the slow lane, if that has room), or why there is none."""
        lane = self.slow if reservation.lane == self.slow.name else self.fast
        try:
            outcome, sliced = await lane.run(job, body, deadline=deadline)
            if outcome is None and sliced:
                try:
                    with self.slow.reserve():
                        outcome, _ = await self.slow.run(job, body, deadline=deadline)
                except Busy:
                    return "busy", ""
        except WorkerLost as exc:
            return "error", str(exc)
        return outcome if outcome is not None else ("timeout", "")
