"""Every Prometheus metric of the machinery, defined in one place, with bounded label sets.

Work-queue metrics keep client-go's names (``workqueue_*``, label ``name``); reconcile metrics
keep controller-runtime's (``controller_runtime_reconcile_*``, label ``controller``). Families are
created once per registry (``machinery_metrics``) so tests can use private registries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from zenflow.machinery.clock import Clock, RealClock

_DURATION_BUCKETS = (1e-6, 1e-5, 1e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)


M = TypeVar("M", bound=MetricWrapperBase)


def labelled(metric: M) -> Callable[..., M]:
    """``metric.labels``, each child looked up once per label values and then remembered
    (``labels`` checks and locks on every call; the hot paths call it per request or per
    reconcile). Only for bounded label sets (verbs, phases, outcomes, controller names) and
    children never removed: the remembered child is the one the family exports."""
    return functools.cache(metric.labels)


class MachineryMetrics:
    """The metric families of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.depth = Gauge("workqueue_depth", "Current depth of workqueue", ["name"], registry=r)
        self.adds = Counter(
            "workqueue_adds", "Total adds handled by workqueue", ["name"], registry=r
        )
        self.queue_latency = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            ["name"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            ["name"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.unfinished_work = Gauge(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been "
            "observed by work_duration",
            ["name"],
            registry=r,
        )
        self.longest_running = Gauge(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running",
            ["name"],
            registry=r,
        )
        self.retries = Counter(
            "workqueue_retries", "Total retries handled by workqueue", ["name"], registry=r
        )
        self.reconcile_total = Counter(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=r,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=r,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master",
            ["name"],
            registry=r,
        )
        self.informer_events = Counter(
            "zenflow_informer_events",
            "Watch events applied to an informer's cache, by resource and event type",
            ["resource", "type"],
            registry=r,
        )
        self._informer_events = labelled(self.informer_events)
        self.informer_relists = Counter(
            "zenflow_informer_relists", "Full lists done by an informer", ["resource"], registry=r
        )
        self.informer_watch_errors = Counter(
            "zenflow_informer_watch_errors",
            "Watches that ended abnormally, by reason",
            ["resource", "reason"],
            registry=r,
        )
        self.informer_undecodable = Counter(
            "zenflow_informer_undecodable_objects",
            "Objects an informer received but could not decode (cached as placeholders)",
            ["resource"],
            registry=r,
        )
        self.api_requests = Counter(
            "zenflow_api_requests",
            "API requests by verb (as counted by the client-side limiter)",
            ["verb"],
            registry=r,
        )

    def informer_event(self, resource: str, event_type: str) -> None:
        """Count one watch event of ``resource`` (``informer_events``); each labelled child is
        looked up once (the label set is bounded: resources x event types), not per event."""
        self._informer_events(resource, event_type).inc()

    def queue(self, name: str, *, clock: Clock | None = None) -> PrometheusQueueMetrics:
        return PrometheusQueueMetrics(self, name, clock=clock or RealClock())


_BY_REGISTRY: dict[int, MachineryMetrics] = {}


def machinery_metrics(registry: CollectorRegistry) -> MachineryMetrics:
    """The families registered in ``registry`` (created on first use)."""
    found = _BY_REGISTRY.get(id(registry))
    if found is None or found.registry is not registry:
        found = MachineryMetrics(registry)
        _BY_REGISTRY[id(registry)] = found
    return found


class QueueMetrics(Protocol):
    """What a work queue reports; client-go's queueMetrics interface."""

    def add(self, item: Hashable) -> None: ...

    def get(self, item: Hashable) -> None: ...

    def done(self, item: Hashable) -> None: ...

    def retry(self) -> None: ...


class NoopQueueMetrics:
    def add(self, item: Hashable) -> None:
        pass

    def get(self, item: Hashable) -> None:
        pass

    def done(self, item: Hashable) -> None:
        pass

    def retry(self) -> None:
        pass


class PrometheusQueueMetrics:
    """client-go's defaultQueueMetrics: latency from first add to get, duration from get to done;
    unfinished work and the longest running processor are computed at scrape time."""

    def __init__(self, families: MachineryMetrics, name: str, *, clock: Clock) -> None:
        self._clock = clock
        self._depth = families.depth.labels(name)
        self._adds = families.adds.labels(name)
        self._latency = families.queue_latency.labels(name)
        self._work = families.work_duration.labels(name)
        self._retries = families.retries.labels(name)
        # Invariant: a key is in _added_at from its first add until its get, and in _started_at
        # from its get until its done.
        self._added_at: dict[Hashable, float] = {}
        self._started_at: dict[Hashable, float] = {}
        families.unfinished_work.labels(name).set_function(self.unfinished_seconds)
        families.longest_running.labels(name).set_function(self.longest_running_seconds)

    def add(self, item: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._added_at.setdefault(item, self._clock.now())

    def get(self, item: Hashable) -> None:
        self._depth.dec()
        now = self._clock.now()
        self._started_at[item] = now
        added = self._added_at.pop(item, None)
        if added is not None:
            self._latency.observe(now - added)

    def done(self, item: Hashable) -> None:
        started = self._started_at.pop(item, None)
        if started is not None:
            self._work.observe(self._clock.now() - started)

    def retry(self) -> None:
        self._retries.inc()

    def unfinished_seconds(self) -> float:
        now = self._clock.now()
        return sum(now - t for t in self._started_at.values())

    def longest_running_seconds(self) -> float:
        now = self._clock.now()
        return max((now - t for t in self._started_at.values()), default=0.0)
