"""Leader election on a coordination.k8s.io Lease (client-go ``leaderelection``; requirements
17-21).

Decisions, all made on the injected monotonic clock:

- Another holder's lease is expired only when ``lease_duration`` has passed since *we observed*
  the Lease change (its content or resourceVersion), never from the renewTime written in it.
- Acquire and renew are updates carrying the resourceVersion read just before; a conflict is a
  lost race (we are not leader), never a second leader. ``leaseTransitions`` grows only when the
  holder changes; ``acquireTime`` is kept on renew.
- The leader renews every ``retry_period``; every attempt runs under a timeout ending at
  ``last successful renew start + renew_deadline``. Past that instant it stops leading, which is
  before any standby can see the lease expire (renew_deadline < lease_duration).
- ``release`` writes an empty holder (duration 1 s) so a standby acquires at its next retry.

The Lease I/O is behind ``LeaseStore`` (kube implementation in ``zenflow.kube.lease``).
"""

from __future__ import annotations

import abc
import os
import random
import secrets
import socket
from dataclasses import dataclass, replace
from datetime import datetime

from zenflow.errors import ConfigError, ConflictError, KubeError
from zenflow.logging import get_logger
from zenflow.machinery.clock import Clock, RealClock, wait_for
from zenflow.machinery.metrics import MachineryMetrics

log = get_logger(__name__)

JITTER_FACTOR = 1.2


@dataclass(frozen=True, slots=True)
class LeaderElectionRecord:
    holder_identity: str
    lease_duration_seconds: int
    acquire_time: datetime | None
    renew_time: datetime | None
    lease_transitions: int


@dataclass(frozen=True, slots=True)
class ObservedLease:
    record: LeaderElectionRecord
    resource_version: str


class LeaseStore(abc.ABC):
    """Read and write one Lease. Errors are zenflow KubeErrors (ConflictError on a stale
    resourceVersion, AlreadyExistsError when creating an existing Lease)."""

    description: str = ""

    @abc.abstractmethod
    async def get(self) -> ObservedLease | None:
        """The Lease, or None when it does not exist."""

    @abc.abstractmethod
    async def create(self, record: LeaderElectionRecord) -> ObservedLease: ...

    @abc.abstractmethod
    async def update(self, record: LeaderElectionRecord, resource_version: str) -> ObservedLease:
        """Replace the Lease spec if its resourceVersion is still ``resource_version``."""

    async def event(self, reason: str, message: str) -> None:  # noqa: B027  # optional hook
        """Record a Kubernetes Event about the Lease (best effort; default: nothing)."""


def default_identity() -> str:
    """Pod name (``POD_NAME``, else the hostname) plus a random suffix, unique per process."""
    base = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{base}_{secrets.token_hex(4)}"


def validate_timings(*, lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's checks: lease duration > renew deadline > JitterFactor x retry period > 0."""
    if retry_period <= 0:
        raise ConfigError(f"--retry-period must be > 0 (got {retry_period})")
    if lease_duration <= renew_deadline:
        raise ConfigError(
            f"--lease-duration ({lease_duration}s) must be greater than "
            f"--renew-deadline ({renew_deadline}s)"
        )
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ConfigError(
            f"--renew-deadline ({renew_deadline}s) must be greater than "
            f"{JITTER_FACTOR} x --retry-period ({retry_period}s)"
        )


class LeaderElector:
    def __init__(
        self,
        lease_name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        *,
        store: LeaseStore,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        metrics: MachineryMetrics | None = None,
    ) -> None:
        validate_timings(
            lease_duration=lease_duration, renew_deadline=renew_deadline, retry_period=retry_period
        )
        if not identity:
            raise ConfigError("leader election identity must not be empty")
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._store = store
        self._clock: Clock = clock or RealClock()
        self._rng = rng or random.Random()
        self._gauge = metrics.leader.labels(lease_name) if metrics is not None else None
        # Invariant: _observed_at is the local monotonic time at which _observed last changed.
        self._observed: ObservedLease | None = None
        self._observed_at = 0.0
        self._leading = False
        self.last_renew: float | None = None
        self._log = log.bind(lease=f"{namespace}/{lease_name}", identity=identity)

    # -- state ---------------------------------------------------------------------------------

    def is_leader(self) -> bool:
        return self._leading

    def seconds_since_renew(self) -> float:
        """Time since the start of the last successful acquire/renew (inf if none)."""
        if self.last_renew is None:
            return float("inf")
        return self._clock.now() - self.last_renew

    def observed_holder(self) -> str:
        return self._observed.record.holder_identity if self._observed else ""

    # -- loops ---------------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Return once this replica holds the lease (retrying every jittered retry period)."""
        self._log.info("leader_election_started")
        while True:
            if await self._attempt(within=self.renew_deadline):
                self._set_leading(True)
                self._log.info("leader_acquired", observed_holder=self.observed_holder())
                await self._event("LeaderElection", f"{self.identity} became leader")
                return
            jitter = self.retry_period * self._rng.random() * JITTER_FACTOR
            await self._clock.sleep(self.retry_period + jitter)

    async def renew_until_lost(self) -> None:
        """Renew every retry period; return (no longer leading) when a renewal could not be
        completed before ``last renew + renew_deadline``, or another holder took the lease."""
        while True:
            await self._clock.sleep(self.retry_period)
            if await self._renew_round():
                continue
            self._set_leading(False)
            self._log.error(
                "leader_lost",
                observed_holder=self.observed_holder(),
                seconds_since_renew=round(self._clock.now() - (self.last_renew or 0.0), 3),
            )
            await self._event("LeaderElection", f"{self.identity} stopped leading")
            return

    async def _renew_round(self) -> bool:
        """Retry renewing until ``last renew + renew_deadline``; False when that passed or
        another replica holds the lease."""
        assert self.last_renew is not None
        deadline = self.last_renew + self.renew_deadline
        while True:
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                return False
            if await self._attempt(within=remaining):
                return True
            if self.observed_holder() not in ("", self.identity):
                return False
            remaining = deadline - self._clock.now()
            if remaining <= 0:
                return False
            await self._clock.sleep(min(self.retry_period, remaining))

    async def release(self, *, within: float | None = None) -> bool:
        """Give the lease up (empty holder) if we hold it; True when the write succeeded."""
        observed = self._observed
        was_leading = self._leading
        self._set_leading(False)
        if not was_leading or observed is None:
            return False
        if observed.record.holder_identity != self.identity:
            return False
        now = self._clock.wall()
        record = LeaderElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            lease_transitions=observed.record.lease_transitions,
        )
        try:
            updated = await wait_for(
                self._clock,
                self._store.update(record, observed.resource_version),
                within if within is not None else self.renew_deadline,
            )
        except (KubeError, TimeoutError) as exc:
            self._log.warning("leader_release_failed", error=repr(exc))
            return False
        self._observe(updated)
        self._log.info("leader_released")
        await self._event("LeaderElection", f"{self.identity} released the lease")
        return True

    # -- one attempt ---------------------------------------------------------------------------

    async def _attempt(self, *, within: float) -> bool:
        started = self._clock.now()
        try:
            ok = await wait_for(self._clock, self._try_acquire_or_renew(), within)
        except ConflictError:
            self._log.debug("leader_election_conflict")
            return False
        except (KubeError, TimeoutError) as exc:
            self._log.warning("leader_election_attempt_failed", error=repr(exc))
            return False
        if ok:
            self.last_renew = started  # conservative: the write happened after this instant
        return ok

    async def _try_acquire_or_renew(self) -> bool:
        now = self._clock.wall()
        desired = LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=max(1, round(self.lease_duration)),
            acquire_time=now,
            renew_time=now,
            lease_transitions=0,
        )
        current = await self._store.get()
        if current is None:
            created = await self._store.create(desired)
            self._observe(created)
            return True
        if current != self._observed:
            self._observe(current)
        holder = current.record.holder_identity
        if holder and holder != self.identity:
            expires_at = self._observed_at + current.record.lease_duration_seconds
            if self._clock.now() < expires_at:
                return False  # held by another and not expired (by our own observation)
        if holder == self.identity:
            desired = replace(
                desired,
                acquire_time=current.record.acquire_time,
                lease_transitions=current.record.lease_transitions,
            )
        else:
            desired = replace(desired, lease_transitions=current.record.lease_transitions + 1)
        updated = await self._store.update(desired, current.resource_version)
        self._observe(updated)
        return True

    def _observe(self, lease: ObservedLease) -> None:
        self._observed = lease
        self._observed_at = self._clock.now()

    def _set_leading(self, leading: bool) -> None:
        self._leading = leading
        if self._gauge is not None:
            self._gauge.set(1 if leading else 0)

    async def _event(self, reason: str, message: str) -> None:
        try:
            await wait_for(self._clock, self._store.event(reason, message), self.retry_period)
        except Exception as exc:
            self._log.debug("leader_event_failed", error=repr(exc))
