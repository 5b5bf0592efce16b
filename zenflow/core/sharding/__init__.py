"""Sharding decisions (pure): the consistent-hash ring over live controller replicas, the shard
key of each JobFlow and CronJobFlow, and what the sharder does about each object (assign, drain,
or nothing). The edge (``zenflow.controller.sharding``) watches Leases and objects and applies
these decisions; nothing here does I/O."""

from zenflow.core.sharding.assign import Action, Placement, decide
from zenflow.core.sharding.keys import (
    LABEL_DRAIN,
    LABEL_SHARD,
    LABEL_SHARD_LEASE,
    cron_shard_key,
    flow_shard_key,
)
from zenflow.core.sharding.ring import Ring

__all__ = [
    "LABEL_DRAIN",
    "LABEL_SHARD",
    "LABEL_SHARD_LEASE",
    "Action",
    "Placement",
    "Ring",
    "cron_shard_key",
    "decide",
    "flow_shard_key",
]
