"""Sharding metrics (one module, bounded labels: ``kind`` is JobFlow or CronJobFlow,
``reason`` one of the sharder's four). Every replica exports its own ``shard`` as a label of
``zenflow_shard_info`` so dashboards join per-shard series on the pod."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True, slots=True)
class ShardMetrics:
    info: Gauge
    owned: Gauge
    reconciles: Counter
    drains_acknowledged: Counter
    assignments: Counter
    drains_requested: Counter
    members: Gauge


def shard_metrics(registry: CollectorRegistry) -> ShardMetrics:
    return ShardMetrics(
        info=Gauge(
            "zenflow_shard_info",
            "This replica's shard identity (value 1)",
            ["shard"],
            registry=registry,
        ),
        owned=Gauge(
            "zenflow_shard_objects_owned",
            "Objects this replica owns (in its shard-selected cache)",
            ["kind"],
            registry=registry,
        ),
        reconciles=Counter(
            "zenflow_shard_reconciles_total",
            "Reconciles this replica ran on objects it owns",
            ["kind"],
            registry=registry,
        ),
        drains_acknowledged=Counter(
            "zenflow_shard_drains_acknowledged_total",
            "Objects this replica handed over (drain acknowledged)",
            ["kind"],
            registry=registry,
        ),
        assignments=Counter(
            "zenflow_sharder_assignments_total",
            "Objects the sharder labelled for an owner, by reason (new, dead, drained)",
            ["kind", "reason"],
            registry=registry,
        ),
        drains_requested=Counter(
            "zenflow_sharder_drains_requested_total",
            "Objects the sharder asked a live owner to let go (rebalance)",
            ["kind"],
            registry=registry,
        ),
        members=Gauge(
            "zenflow_sharder_members", "Live members the sharder sees", registry=registry
        ),
    )
