"""Membership of a sharded controller: each replica's own Lease, and which members are alive.

A replica joins by holding ``<lease-name>-shard-<identity>`` in the leader-election namespace,
labelled ``workflow.zen.io/shard-lease=<lease-name>`` so the sharder lists the members. The
Lease is held with the ``LeaderElector`` (same timings as leader election): the manager uses it
as its elector, so the controllers start once it is held and a replica that cannot renew it
within the renew deadline stops all reconciling and exits (``LeadershipLostError``), before
any other replica can see it expire. On SIGTERM the manager stops the work, then releases it.

``Members`` judges liveness as the leader elector judges a holder: from the local monotonic
time at which a Lease change was *observed* (never from the renewTime written in it), so clock
skew between replicas cannot make a live member look dead. A Lease with no holder (released) is
dead at once; a Lease unseen is no member. Only members seen renewing (``ready``) are given
objects, so a sharder that starts never assigns to a member that died just before.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from zenflow.api.constants import LABEL_SHARD_LEASE
from zenflow.controller.leases import lease_elector
from zenflow.controller.settings import ControllerSettings
from zenflow.kube.transport import Transport
from zenflow.machinery.clock import Clock, RealClock
from zenflow.machinery.leaderelection import LeaderElector
from zenflow.machinery.metrics import MachineryMetrics

if TYPE_CHECKING:
    from kubernetes_asyncio import client

_LABEL_VALUE: Final = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def shard_identity(identity: str) -> str:
    """``identity`` as a label value (<= 63 characters, alphanumerics, ``-_.``): unchanged when
    valid, else a readable prefix plus a hash of the whole."""
    if _LABEL_VALUE.match(identity):
        return identity
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    prefix = re.sub(r"[^-A-Za-z0-9_.]", "-", identity)[:50].strip("-_.") or "shard"
    return f"{prefix}-{digest}"


def membership_lease_name(lease_name: str, identity: str) -> str:
    """The member's Lease (a DNS subdomain: lower case, ``_`` -> ``-``)."""
    suffix = re.sub(r"[^a-z0-9.-]", "-", identity.lower()).strip("-.")
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{lease_name}-shard-{suffix[:200]}-{digest}"


def membership_elector(
    settings: ControllerSettings,
    api: client.ApiClient | Transport,
    *,
    identity: str,
    metrics: MachineryMetrics | None = None,
) -> LeaderElector:
    """The elector that holds this replica's membership Lease (the manager's elector)."""
    name = membership_lease_name(settings.lease_name, identity)
    return lease_elector(
        settings,
        api,
        name=name,
        identity=identity,
        labels={LABEL_SHARD_LEASE: settings.lease_name},
        metrics=metrics,
    )


@dataclass(slots=True)
class _Seen:
    holder: str
    duration: float
    version: str
    observed_at: float
    renewed: bool = False
    """A change by the same holder was observed since the first sight: it is renewing now."""


class Members:
    """Liveness of the members, from their Leases as a watch delivers them."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or RealClock()
        self._leases: dict[str, _Seen] = {}

    def observe(self, lease: dict[str, Any]) -> None:
        """A membership Lease was listed, added or updated."""
        meta = lease.get("metadata") or {}
        spec = lease.get("spec") or {}
        name = str(meta.get("name", ""))
        holder = spec.get("holderIdentity")
        duration = spec.get("leaseDurationSeconds")
        version = str(meta.get("resourceVersion", ""))
        seen = self._leases.get(name)
        if seen is not None and seen.version == version:
            return
        holder = holder if isinstance(holder, str) else ""
        self._leases[name] = _Seen(
            holder=holder,
            duration=float(duration) if isinstance(duration, int) else 0.0,
            version=version,
            observed_at=self._clock.now(),
            renewed=seen is not None and bool(holder) and seen.holder == holder,
        )

    def forget(self, lease: dict[str, Any]) -> None:
        """A membership Lease was deleted."""
        self._leases.pop(str((lease.get("metadata") or {}).get("name", "")), None)

    def alive(self) -> frozenset[str]:
        """Identities (as shard label values) whose Lease is held and not expired."""
        now = self._clock.now()
        return frozenset(
            shard_identity(s.holder)
            for s in self._leases.values()
            if s.holder and now < s.observed_at + s.duration
        )

    def ready(self) -> frozenset[str]:
        """Live members seen renewing since this observer started: the ring's members. A Lease
        seen only once may belong to a replica that died just before (its expiry is judged
        from our first sight): it keeps what it holds until it expires, but gets nothing new."""
        now = self._clock.now()
        return frozenset(
            shard_identity(s.holder)
            for s in self._leases.values()
            if s.holder and s.renewed and now < s.observed_at + s.duration
        )

    def next_expiry(self) -> float | None:
        """Seconds until the next live member would expire unless renewed (None: none live)."""
        now = self._clock.now()
        left = [
            s.observed_at + s.duration - now
            for s in self._leases.values()
            if s.holder and now < s.observed_at + s.duration
        ]
        return min(left) if left else None

    def dead_leases(self, *, grace: float) -> list[str]:
        """Names of Leases released or expired for more than ``grace`` seconds."""
        now = self._clock.now()
        return [
            name for name, s in self._leases.items() if now >= s.observed_at + s.duration + grace
        ]
