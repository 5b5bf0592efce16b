"""Reviews judged in a bounded pool of threads of the server's own process.

For a validator callable that cannot cross a process boundary (tests inject stand-ins), and to
compare with ``zenflow.webhook.pool`` (``--webhook-isolation thread``). The validator is pure
Python and holds the GIL while it runs, so a long review still slows the event loop down (it
gets the GIL back every ``sys.getswitchinterval()``); docs/SECURITY.md has the measurements.

Invariants: at most ``workers`` reviews run and ``max_waiting`` more wait (``reserve`` is
``Busy`` beyond that); a review past its deadline is answered with a ``timeout`` refusal at
once, but its thread cannot be stopped: it keeps its place until the validator returns.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from zenflow.webhook.admission import Outcome, Validator, handle_review, refusal
from zenflow.webhook.executor import Busy, Mode, Reservation
from zenflow.webhook.mutation import handle_mutation
from zenflow.webhook.templatejudge import Found, judge, unjudged
from zenflow.webhook.warmup import warm_up_reviews


class ThreadReviews:
    def __init__(self, validate: Validator, *, workers: int = 2, max_waiting: int = 32) -> None:
        self._validate = validate
        self._workers = workers
        self._capacity = workers + max_waiting
        self._admitted = 0
        self._slots = asyncio.Semaphore(workers)
        self._pool: ThreadPoolExecutor | None = None

    def reserve(self, *, large: bool) -> Reservation:
        if self._admitted >= self._capacity:
            raise Busy("thread")
        self._admitted += 1
        return Reservation("thread", self._release)

    def _release(self) -> None:
        self._admitted -= 1

    async def start(self) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="webhook-review")
            # As the review workers do: the validator's lazily loaded parts (the CEL compiler)
            # load now, not in the first review.
            loop = asyncio.get_running_loop()
            for review in warm_up_reviews():
                warm_up = functools.partial(handle_review, review, validate=self._validate)
                await loop.run_in_executor(self._pool, warm_up)

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def review(
        self, reservation: Reservation, mode: Mode, body: bytes, *, deadline: float
    ) -> Outcome:
        call = (
            functools.partial(handle_mutation, body)
            if mode == "mutate"
            else functools.partial(handle_review, body, validate=self._validate)
        )
        answer = await self._run(call, deadline=deadline)
        return answer if answer is not None else _timeout(body)

    async def judge_templates(
        self, reservation: Reservation, outcome: Outcome, found: Found, *, deadline: float
    ) -> Outcome:
        answer = await self._run(functools.partial(judge, outcome, found), deadline=deadline)
        return answer if answer is not None else unjudged(outcome, "timeout")

    async def _run(self, call: Callable[[], Outcome], *, deadline: float) -> Outcome | None:
        """``call``'s answer from a pool thread, or None past ``deadline``."""
        await self.start()
        assert self._pool is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError:
            return None
        future = loop.run_in_executor(self._pool, call)
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(future)
        except TimeoutError:
            return None


def _timeout(body: bytes) -> Outcome:
    return refusal(
        body,
        code=504,
        reason="Timeout",
        message="the review took longer than the webhook's time budget; the object is refused",
        result="timeout",
    )
