"""Where reviews are judged, as the server sees it: reserve a place, then review within a deadline.

Two executors implement ``ReviewExecutor``: ``zenflow.webhook.pool.ProcessReviews`` (the default:
worker processes, so a review's CPU never holds the server's event loop or the controller that
shares it) and ``zenflow.webhook.inline.ThreadReviews`` (a bounded thread pool around any
validator callable, for tests and for comparison).

Invariants:
- ``reserve`` answers at once: a ``Reservation`` (a place in a bounded queue, held while the body
  is read and the review waits and runs) or ``Busy``. So the memory held by bodies in flight is
  bounded by the places, and a full queue costs a caller nothing but a quick refusal.
- ``review`` and ``judge_templates`` never raise (bar cancellation): past the deadline, or when
  a worker fails, they answer the refusal themselves (result ``timeout`` / ``error``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from zenflow.webhook.admission import Outcome
from zenflow.webhook.templatejudge import Found

Mode = Literal["validate", "mutate"]


class Busy(Exception):
    """No place left for another review of this size right now."""

    def __init__(self, lane: str) -> None:
        super().__init__(f"the webhook's {lane} review queue is full")
        self.lane = lane


class Reservation:
    """A place held in a lane's bounded queue; ``release`` (or leaving ``with``) frees it once."""

    def __init__(self, lane: str, on_release: Callable[[], None]) -> None:
        self.lane = lane
        self._on_release: Callable[[], None] | None = on_release

    def release(self) -> None:
        if self._on_release is not None:
            on_release, self._on_release = self._on_release, None
            on_release()

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class ReviewExecutor(Protocol):
    """The server's view of whatever runs the reviews."""

    def reserve(self, *, large: bool) -> Reservation:
        """A place for one review (``large``: its body is over the large-body threshold or of
        unknown size). Raises ``Busy``."""

    async def review(
        self, reservation: Reservation, mode: Mode, body: bytes, *, deadline: float
    ) -> Outcome:
        """The answer to ``body`` by ``deadline`` (event-loop time), or a refusal saying why not."""

    async def judge_templates(
        self, reservation: Reservation, outcome: Outcome, found: Found, *, deadline: float
    ) -> Outcome:
        """``outcome`` (an admitted review whose flow uses templates) judged against the
        ``found`` templates (``zenflow.webhook.templatejudge.judge``) by ``deadline``, where the
        reviews run, under the review's ``reservation``; or a refusal saying why not."""

    async def start(self) -> None:
        """Ready to review (workers started and warmed up)."""

    async def stop(self) -> None:
        """Stop every worker. Idempotent."""
